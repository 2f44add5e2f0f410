// Package distance holds the vector kernels every nearkit index shares:
// squared Euclidean distance, inner product and cosine distance for float32
// vectors, integer kernels for 8-bit scalar codes, and the lookup-sum kernel
// of product-quantization asymmetric distances.
//
// Each kernel has a one-to-one form and, where indexes spend their time, a
// one-to-many form: Batch scores a query against n contiguous row-major
// vectors, Gather against the rows named by a list of row numbers (what a
// graph search does).
//
// The implementation is chosen once at start-up from the CPU's features:
// AVX-512 or AVX2+FMA assembly on amd64, NEON on arm64, and a portable Go
// fallback everywhere else or when built with -tags purego. Implementation
// reports which one runs. GODEBUG=cpu.avx512f=off or cpu.avx2=off switch the
// amd64 paths off for testing.
//
// Unequal lengths are a programming error: the one-to-one kernels panic when
// len(a) != len(b), and the batch kernels panic when len(data) is not a
// multiple of dim or len(out) does not match the number of rows. Index
// packages validate user input before it reaches a kernel and return errors.
package distance

import (
	"math"
	"strconv"
)

// SquaredL2 returns the squared Euclidean distance Σ (a[i]-b[i])².
// It panics if len(a) != len(b).
func SquaredL2(a, b []float32) float32 {
	// Kept within the inliner's budget (one call, a panic that calls
	// nothing), so that a caller's loop pays for the kernel's call only.
	if len(a) != len(b) {
		panic(&lengthError{"SquaredL2", len(a), len(b)})
	}
	if raceEnabled {
		raceRead(a)
		raceRead(b)
	}
	return squaredL2(a, b)
}

// Dot returns the inner product Σ a[i]*b[i].
// It panics if len(a) != len(b).
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic(&lengthError{"Dot", len(a), len(b)})
	}
	if raceEnabled {
		raceRead(a)
		raceRead(b)
	}
	return dot(a, b)
}

// CosineDistance returns 1 - cos(a, b), in [0, 2].
// A zero vector has no direction; its distance to anything (itself included)
// is defined as 1, the distance of orthogonal vectors, so it is neither near
// nor far from any vector.
// It panics if len(a) != len(b).
func CosineDistance(a, b []float32) float32 {
	if len(a) != len(b) {
		panicLengths("CosineDistance", len(a), len(b))
	}
	if raceEnabled {
		raceRead(a)
		raceRead(b)
	}
	ab := dot(a, b)
	aa := dot(a, a)
	bb := dot(b, b)
	if aa == 0 || bb == 0 {
		return 1
	}
	// float64 for the normalisation: aa*bb overflows float32 for
	// vectors of moderately large magnitude.
	c := float64(ab) / math.Sqrt(float64(aa)*float64(bb))
	if c > 1 {
		c = 1
	} else if c < -1 {
		c = -1
	}
	return float32(1 - c)
}

// Norm returns the Euclidean length of v.
func Norm(v []float32) float32 {
	if raceEnabled {
		raceRead(v)
	}
	return float32(math.Sqrt(float64(dot(v, v))))
}

// Normalize scales v in place to unit Euclidean length and returns its
// original length. A zero vector is left unchanged (and 0 returned).
//
// The length is summed in float32 by the SIMD kernel when that is safe, and
// again in float64 when the float32 sum of squares overflows to +Inf
// (elements above about 1.8e19/√len) or falls where it loses precision
// (below about 1e-30, including a non-zero vector whose squares underflow
// to zero): every finite vector is normalised, never left at its original
// scale. NaN elements leave v unchanged and return NaN.
func Normalize(v []float32) float32 {
	n := Norm(v)
	if math.IsNaN(float64(n)) {
		return n
	}
	if n > minSafeNorm && !math.IsInf(float64(n), 0) {
		inv := 1 / n
		for i := range v {
			v[i] *= inv
		}
		return n
	}
	// float64 holds the square of every float32 exactly enough and never
	// overflows for any length a slice can have.
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(ss, 0) || math.IsNaN(ss) {
		return float32(math.Sqrt(ss))
	}
	nn := math.Sqrt(ss)
	inv := 1 / nn
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return float32(nn) // +Inf when the length itself exceeds float32
}

// minSafeNorm is the float32 length below which Normalize recomputes in
// float64: squares of elements this small are subnormal or zero in float32.
const minSafeNorm = 1e-15

// SquaredL2Batch sets out[i] = SquaredL2(q, data[i*dim:(i+1)*dim]) for each
// of the len(data)/dim rows of data.
// It panics if dim != len(q), len(data)%dim != 0 or len(out) != len(data)/dim.
func SquaredL2Batch(q, data []float32, dim int, out []float32) {
	checkBatch("SquaredL2Batch", len(q), len(data), dim, len(out))
	if len(out) == 0 {
		return
	}
	squaredL2Batch(q, data, dim, out)
}

// DotBatch sets out[i] = Dot(q, data[i*dim:(i+1)*dim]) for each of the
// len(data)/dim rows of data.
// It panics if dim != len(q), len(data)%dim != 0 or len(out) != len(data)/dim.
func DotBatch(q, data []float32, dim int, out []float32) {
	checkBatch("DotBatch", len(q), len(data), dim, len(out))
	if len(out) == 0 {
		return
	}
	dotBatch(q, data, dim, out)
}

// SquaredL2Gather sets out[i] = SquaredL2(q, data[r*dim:(r+1)*dim]) with
// r = rows[i].
// It panics if dim != len(q), len(data)%dim != 0, len(out) != len(rows), or
// a row number is out of range.
func SquaredL2Gather(q, data []float32, dim int, rows []uint32, out []float32) {
	checkGather("SquaredL2Gather", len(q), len(data), dim, rows, len(out))
	squaredL2Gather(q, data, dim, rows, out)
}

// DotGather sets out[i] = Dot(q, data[r*dim:(r+1)*dim]) with r = rows[i].
// It panics if dim != len(q), len(data)%dim != 0, len(out) != len(rows), or
// a row number is out of range.
func DotGather(q, data []float32, dim int, rows []uint32, out []float32) {
	checkGather("DotGather", len(q), len(data), dim, rows, len(out))
	dotGather(q, data, dim, rows, out)
}

// DotUint8 returns Σ a[i]*b[i] accumulated exactly in integers.
// The sum cannot overflow for len(a) ≤ 66,051 (255²·66,051 < 2³²).
// It panics if len(a) != len(b).
func DotUint8(a, b []uint8) uint32 {
	if len(a) != len(b) {
		panicLengths("DotUint8", len(a), len(b))
	}
	return dotUint8(a, b)
}

// SquaredL2Uint8 returns Σ (a[i]-b[i])² accumulated exactly in integers.
// The sum cannot overflow for len(a) ≤ 66,051.
// It panics if len(a) != len(b).
func SquaredL2Uint8(a, b []uint8) uint32 {
	if len(a) != len(b) {
		panicLengths("SquaredL2Uint8", len(a), len(b))
	}
	return squaredL2Uint8(a, b)
}

// DotInt8 returns Σ a[i]*b[i] accumulated exactly in an int32.
// The sum cannot overflow for len(a) ≤ 131,071 (128²·131,071 < 2³¹).
// It panics if len(a) != len(b).
func DotInt8(a, b []int8) int32 {
	if len(a) != len(b) {
		panicLengths("DotInt8", len(a), len(b))
	}
	return dotInt8(a, b)
}

// SquaredL2Int8 returns Σ (a[i]-b[i])² accumulated exactly in integers.
// The sum cannot overflow for len(a) ≤ 66,051 (255²·66,051 < 2³²).
// It panics if len(a) != len(b).
func SquaredL2Int8(a, b []int8) uint32 {
	if len(a) != len(b) {
		panicLengths("SquaredL2Int8", len(a), len(b))
	}
	return squaredL2Int8(a, b)
}

// PQLookupSum returns Σ table[j*256+int(code[j])] over j < len(code): the
// asymmetric distance of one product-quantization code with len(code)
// subquantizers of 256 centroids each, given the query's lookup table.
// It panics if len(table) < 256*len(code).
func PQLookupSum(table []float32, code []uint8) float32 {
	if len(table) < 256*len(code) {
		panic("distance: PQLookupSum: table has " + strconv.Itoa(len(table)) + " entries, need 256*" + strconv.Itoa(len(code)))
	}
	return pqLookupSum(table, code)
}

// PQLookupSumBatch sets out[i] = PQLookupSum(table, codes[i*m:(i+1)*m]) for
// each of the len(codes)/m codes stored contiguously in codes.
// It panics if m <= 0, len(codes)%m != 0, len(out) != len(codes)/m or
// len(table) < 256*m.
func PQLookupSumBatch(table []float32, codes []uint8, m int, out []float32) {
	if m <= 0 || len(codes)%m != 0 || len(out) != len(codes)/m || len(table) < 256*m {
		panic("distance: PQLookupSumBatch: inconsistent sizes: m=" + strconv.Itoa(m) + " len(codes)=" + strconv.Itoa(len(codes)) +
			" len(out)=" + strconv.Itoa(len(out)) + " len(table)=" + strconv.Itoa(len(table)))
	}
	if len(out) == 0 {
		return
	}
	pqLookupSumBatch(table, codes, m, out)
}

// Implementation names the kernel implementation in use on this machine:
// "avx512", "avx2", "neon" or "generic".
func Implementation() string { return implementation() }

// lengthError is the panic value of a one-to-one kernel called with
// slices of different lengths.
type lengthError struct {
	fn   string
	a, b int
}

func (e *lengthError) Error() string {
	return "distance: " + e.fn + ": slices have different lengths " + strconv.Itoa(e.a) + " and " + strconv.Itoa(e.b)
}

func panicLengths(fn string, a, b int) {
	panic(&lengthError{fn, a, b})
}

func checkBatch(fn string, lq, ldata, dim, lout int) {
	if dim <= 0 || lq != dim || ldata%dim != 0 || lout != ldata/dim {
		panic("distance: " + fn + ": inconsistent sizes: dim=" + strconv.Itoa(dim) + " len(q)=" + strconv.Itoa(lq) +
			" len(data)=" + strconv.Itoa(ldata) + " len(out)=" + strconv.Itoa(lout))
	}
}

func checkGather(fn string, lq, ldata, dim int, rows []uint32, lout int) {
	if dim <= 0 || lq != dim || ldata%dim != 0 || lout != len(rows) {
		panic("distance: " + fn + ": inconsistent sizes: dim=" + strconv.Itoa(dim) + " len(q)=" + strconv.Itoa(lq) +
			" len(data)=" + strconv.Itoa(ldata) + " len(rows)=" + strconv.Itoa(len(rows)) + " len(out)=" + strconv.Itoa(lout))
	}
	n := uint32(ldata / dim)
	for _, r := range rows {
		if r >= n {
			panic("distance: " + fn + ": row " + strconv.Itoa(int(r)) + " out of range [0," + strconv.Itoa(int(n)) + ")")
		}
	}
}
