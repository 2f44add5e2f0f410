package distance

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// refHalf decodes binary16 bits with float64 arithmetic, independently of
// float16ToFloat32's bit manipulation.
func refHalf(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0x1f:
		if mant != 0 {
			return math.NaN()
		}
		return math.Inf(int(sign))
	case 0:
		return sign * mant * math.Ldexp(1, -24)
	}
	return sign * (1 + mant/1024) * math.Ldexp(1, exp-15)
}

func TestFloat16ToFloat32(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got, want := float64(float16ToFloat32(uint16(h))), refHalf(uint16(h))
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		}
		if got != want || math.Signbit(got) != math.Signbit(want) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func refSquaredL2F16(q []float32, x []uint16) (sum, abs float64) {
	for i := range q {
		d := float64(q[i]) - refHalf(x[i])
		sum += d * d
	}
	return sum, sum
}

func refDotF16(q []float32, x []uint16) (sum, abs float64) {
	for i := range q {
		p := float64(q[i]) * refHalf(x[i])
		sum += p
		abs += math.Abs(p)
	}
	return sum, abs
}

// randHalves returns finite binary16 values of every exponent, subnormals
// and signed zeros included.
func randHalves(r *rand.Rand, n int) []uint16 {
	x := make([]uint16, n)
	for i := range x {
		h := uint16(r.Uint32())
		for h&0x7c00 == 0x7c00 {
			h = uint16(r.Uint32())
		}
		x[i] = h
	}
	return x
}

func TestFloat16Kernels(t *testing.T) {
	r := newRand(t)
	const pad = 16
	q0 := randFloats(r, 4096+2*pad)
	for i := range q0 {
		q0[i] *= 100 // the halves span ±65504; keep the query comparable
	}
	x0 := randHalves(r, 4096+2*pad)
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, n := range testLengths() {
				for _, off := range testOffsets(n) {
					q, x := q0[off:off+n], x0[pad-off:pad-off+n]
					// The conversion is exact, so the float32 bound holds.
					want, abs := refSquaredL2F16(q, x)
					checkClose(t, fmt.Sprintf("squaredL2Float16 n=%d off=%d", n, off), im.squaredL2Float16(q, x), want, abs, n)
					want, abs = refDotF16(q, x)
					checkClose(t, fmt.Sprintf("dotFloat16 n=%d off=%d", n, off), im.dotFloat16(q, x), want, abs, n)
				}
			}
		})
	}
}

func TestHalvesOf(t *testing.T) {
	v := []float32{1, -2.5, 65504, 1e-9, 0.1}
	x := halvesOf(v)
	for i, h := range x {
		want := float64(v[i])
		if v[i] == 1e-9 {
			want = 0
		}
		// Truncation to 10 mantissa bits: relative error below 2⁻¹⁰.
		if got := refHalf(h); math.Abs(got-want) > math.Abs(want)/1024 {
			t.Fatalf("halvesOf(%v) = %#04x = %v", v[i], h, got)
		}
	}
}

func TestFloat16API(t *testing.T) {
	q := []float32{1, 2, 3}
	x := []uint16{0x3c00, 0x4000, 0xc200} // 1, 2, -3
	if got := SquaredL2Float16(q, x); got != 36 {
		t.Fatalf("SquaredL2Float16 = %v, want 36", got)
	}
	if got := DotFloat16(q, x); got != -4 {
		t.Fatalf("DotFloat16 = %v, want -4", got)
	}
	expectPanic(t, "SquaredL2Float16", "SquaredL2Float16: slices have different lengths 3 and 2", func() { SquaredL2Float16(q, x[:2]) })
	expectPanic(t, "DotFloat16", "DotFloat16: slices have different lengths 2 and 3", func() { DotFloat16(q[:2], x) })
	nan := []uint16{0x3c00, 0x7e00, 0}
	for _, im := range implementations() {
		if got := im.squaredL2Float16(q, nan); got == got {
			t.Fatalf("%s squaredL2Float16 with a NaN half = %v", im.name, got)
		}
		if got := im.dotFloat16(q, nan); got == got {
			t.Fatalf("%s dotFloat16 with a NaN half = %v", im.name, got)
		}
	}
}

func fuzzFloat16(t *testing.T, data []byte, ref func(q []float32, x []uint16) (float64, float64), kernel func(im impl) func(q []float32, x []uint16) float32) {
	n := len(data) / 6
	q := floatsFromBytes(data[:4*n])
	x := make([]uint16, n)
	for i := range x {
		x[i] = binary.LittleEndian.Uint16(data[4*n+2*i:])
	}
	want, abs := ref(q, x)
	hasNaN, finite := scanFloats(q)
	for _, h := range x {
		hasNaN = hasNaN || h&0x7c00 == 0x7c00 && h&0x3ff != 0
		finite = finite && h&0x7c00 != 0x7c00
	}
	for _, im := range implementations() {
		got := kernel(im)(q, x)
		switch {
		case hasNaN:
			if got == got {
				t.Fatalf("%s: got %v for a NaN input", im.name, got)
			}
		case finite && abs < math.MaxFloat32/2:
			checkClose(t, im.name, got, want, abs, n)
		}
	}
}

func FuzzSquaredL2Float16(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFloat16(t, data, refSquaredL2F16, func(im impl) func(q []float32, x []uint16) float32 { return im.squaredL2Float16 })
	})
}

func FuzzDotFloat16(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFloat16(t, data, refDotF16, func(im impl) func(q []float32, x []uint16) float32 { return im.dotFloat16 })
	})
}

// halvesOf truncates normally distributed values to binary16, the kind of
// data a float16 codec stores (normal halves; the generic kernel's branches
// on subnormals and NaN then predict well, unlike with randHalves).
func halvesOf(v []float32) []uint16 {
	x := make([]uint16, len(v))
	for i, f := range v {
		b := math.Float32bits(f)
		e := int(b>>23&0xff) - 127 + 15
		if e <= 0 || e >= 31 {
			continue // tiny values (and none too large here) become ±0
		}
		x[i] = uint16(b>>16&0x8000) | uint16(e)<<10 | uint16(b>>13&0x3ff)
	}
	return x
}

func benchFloat16(b *testing.B, kernel func(im impl) func(q []float32, x []uint16) float32) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range benchImpls(func(im impl) any { return kernel(im) }) {
		f := kernel(im)
		for _, dim := range benchDims {
			q, base := randFloats(r, dim), halvesOf(randFloats(r, benchBase*dim))
			b.Run(fmt.Sprintf("impl=%s/dim=%d", im.name, dim), func(b *testing.B) {
				b.SetBytes(int64(6 * dim))
				var s float32
				i := 0
				for b.Loop() {
					s += f(q, base[i*dim:(i+1)*dim])
					i = (i + 1) % benchBase
				}
				sinkF = s
				reportElems(b, dim)
			})
		}
	}
}

func BenchmarkSquaredL2Float16(b *testing.B) {
	benchFloat16(b, func(im impl) func(q []float32, x []uint16) float32 { return im.squaredL2Float16 })
}

func BenchmarkDotFloat16(b *testing.B) {
	benchFloat16(b, func(im impl) func(q []float32, x []uint16) float32 { return im.dotFloat16 })
}
