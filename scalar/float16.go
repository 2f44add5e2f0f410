package scalar

import (
	"fmt"
	"math"

	"github.com/nearkit/nearkit"
)

// Float16 codec: IEEE 754 binary16 (1 sign, 5 exponent, 10 mantissa bits),
// 2 bytes per coordinate, relative error ≤ 2⁻¹¹ for |x| in
// [6.1e-5, 65504]. It needs no training. Values beyond ±65504 become ±Inf
// and are rejected by EncodeFloat16, since an index should not silently
// store infinities. Distances between a float32 query and float16 codes
// are distance.SquaredL2Float16 and distance.DotFloat16 (F16C/AVX-512 and
// FCVTL kernels).

// Float16Bits converts f to binary16 bits, rounding to nearest even, with
// subnormals, infinities and NaN handled as the hardware conversion
// (F16C VCVTPS2PH with round-to-nearest) does.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	switch {
	case exp == 0xff:
		if mant != 0 {
			// Quiet NaN, keeping the top payload bits.
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	case exp > 127+15:
		return sign | 0x7c00 // overflow → Inf
	case exp >= 127-14:
		// Normal half: rebias the exponent, round the mantissa to 10
		// bits; a carry out of the mantissa correctly bumps the exponent
		// (up to Inf).
		h := uint32(exp-127+15)<<10 | mant>>13
		rest := mant & 0x1fff
		if rest > 0x1000 || (rest == 0x1000 && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	case exp >= 127-25:
		// Subnormal half: value = m·2⁻²⁴ with m < 1024.
		m := mant | 0x800000 // implicit bit
		shift := uint(126 - exp)
		h := m >> shift
		rest := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	return sign // underflow → ±0
}

// Float16Value converts binary16 bits to float32 (exact).
func Float16Value(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// EncodeFloat16 converts v to binary16 into dst[:len(v)]. It returns an
// error wrapping nearkit.ErrInvalidVector if v holds NaN or ±Inf or a value
// beyond the float16 range (±65504 after rounding), and
// nearkit.ErrDimension if dst is shorter than v.
func EncodeFloat16(dst []uint16, v []float32) error {
	if len(dst) < len(v) {
		return fmt.Errorf("%w: float16: dst of %d for %d values", nearkit.ErrDimension, len(dst), len(v))
	}
	dst = dst[:len(v)]
	for i, x := range v {
		h := Float16Bits(x)
		if h&0x7c00 == 0x7c00 {
			return fmt.Errorf("%w: float16: element %d = %v is not representable", nearkit.ErrInvalidVector, i, x)
		}
		dst[i] = h
	}
	return nil
}

// DecodeFloat16 converts src to float32 into dst[:len(src)]. It returns an
// error wrapping nearkit.ErrDimension if dst is shorter than src.
func DecodeFloat16(dst []float32, src []uint16) error {
	if len(dst) < len(src) {
		return fmt.Errorf("%w: float16: dst of %d for %d values", nearkit.ErrDimension, len(dst), len(src))
	}
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = Float16Value(h)
	}
	return nil
}
