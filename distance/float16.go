package distance

import "math"

// SquaredL2Float16 returns Σ (q[i]-x[i])² where x holds IEEE 754 binary16
// ("half precision") values as raw bits, the storage of float16 scalar
// codecs: the query stays float32 and each stored value is widened exactly.
// It panics if len(q) != len(x).
func SquaredL2Float16(q []float32, x []uint16) float32 {
	if len(q) != len(x) {
		panicLengths("SquaredL2Float16", len(q), len(x))
	}
	return squaredL2Float16(q, x)
}

// DotFloat16 returns Σ q[i]*x[i] where x holds IEEE 754 binary16 values as
// raw bits (see SquaredL2Float16).
// It panics if len(q) != len(x).
func DotFloat16(q []float32, x []uint16) float32 {
	if len(q) != len(x) {
		panicLengths("DotFloat16", len(q), len(x))
	}
	return dotFloat16(q, x)
}

// float16ToFloat32 widens binary16 bits exactly, as VCVTPH2PS and FCVTL
// do. A NaN stays a NaN (the hardware also quiets signalling NaNs, which
// the arithmetic that follows does anyway); it is small enough to inline.
func float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	em := uint32(h & 0x7fff)
	switch {
	case em >= 0x7c00: // ±Inf, NaN
		return math.Float32frombits(sign | 0x7f800000 | (em&0x3ff)<<13)
	case em < 0x400: // ±0 and subnormals: em·2⁻²⁴, exact in float32
		return math.Float32frombits(sign | math.Float32bits(float32(em)*(1.0/(1<<24))))
	}
	// Normal: rebias the exponent from 15 to 127.
	return math.Float32frombits(sign | (em<<13 + (127-15)<<23))
}

func squaredL2Float16Generic(q []float32, x []uint16) float32 {
	x = x[:len(q)]
	var s0, s1, s2, s3 float32
	for len(q) >= 4 && len(x) >= 4 {
		d0 := q[0] - float16ToFloat32(x[0])
		d1 := q[1] - float16ToFloat32(x[1])
		d2 := q[2] - float16ToFloat32(x[2])
		d3 := q[3] - float16ToFloat32(x[3])
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
		q, x = q[4:], x[4:]
	}
	x = x[:len(q)]
	for i := range q {
		d := q[i] - float16ToFloat32(x[i])
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func dotFloat16Generic(q []float32, x []uint16) float32 {
	x = x[:len(q)]
	var s0, s1, s2, s3 float32
	for len(q) >= 4 && len(x) >= 4 {
		s0 += q[0] * float16ToFloat32(x[0])
		s1 += q[1] * float16ToFloat32(x[1])
		s2 += q[2] * float16ToFloat32(x[2])
		s3 += q[3] * float16ToFloat32(x[3])
		q, x = q[4:], x[4:]
	}
	x = x[:len(q)]
	for i := range q {
		s0 += q[i] * float16ToFloat32(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}
