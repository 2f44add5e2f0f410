package distance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// Every test below runs every implementation the CPU can run (generic,
// then avx2/avx512 on amd64 or neon on arm64) against a float64 or exact
// integer reference. Nothing here names an architecture-specific kernel.

// testLengths are the vector lengths the differential tests cover: every
// length up to 300 (all tail sizes of every unroll factor in use, and then
// some), plus common embedding sizes.
func testLengths() []int {
	var ns []int
	for n := 0; n <= 300; n++ {
		ns = append(ns, n)
	}
	ns = append(ns, 768, 784, 1024, 1536)
	if !testing.Short() {
		ns = append(ns, 4096)
	}
	return ns
}

// testOffsets are the element offsets into a shared backing array at which
// the slices start, so that every alignment modulo 64 bytes is exercised.
func testOffsets(n int) []int {
	if testing.Short() && n > 64 {
		return []int{0, 1, 3, 7, 15}
	}
	return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
}

func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(uint64(len(t.Name())), 0x6e6561726b6974))
}

func randFloats(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// The float64 references. Products of two float32 values are exact in
// float64 (24+24 significant bits < 53), and summing n ≤ 2²⁰ of them in
// float64 loses at most n·2⁻⁵³ relative, far below the float32 tolerance.
func refSquaredL2(a, b []float32) (sum, abs float64) {
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return sum, sum
}

func refDot(a, b []float32) (sum, abs float64) {
	for i := range a {
		p := float64(a[i]) * float64(b[i])
		sum += p
		abs += math.Abs(p)
	}
	return sum, abs
}

// tolerance is the error bound of a float32 sum of n rounded terms whose
// exact absolute values sum to abs, in any summation order.
//
// Each term carries at most 2 roundings before it is added: (a-b) and its
// square for L2 (a fused multiply-add rounds the square together with the
// addition), a*b for the inner product. A sum of n terms in any order — one
// running sum, several interleaved accumulators, a pairwise tree — rounds
// each partial sum once, and each term passes through at most n-1 of them.
// With u = 2⁻²⁴ the classical bound is therefore (n+1)·u·Σ|termᵢ| to first
// order; (n+2) covers the second-order terms for every n tested here. The
// 2⁻¹⁴⁹·(3n+1) absolute part covers underflow to subnormals (each rounding
// then errs by up to half the smallest subnormal, not relatively), which
// only the fuzz inputs reach.
func tolerance(n int, abs float64) float64 {
	const u = 1.0 / (1 << 24)
	return float64(n+2)*u*abs + float64(3*n+1)*math.SmallestNonzeroFloat32
}

func checkClose(t *testing.T, what string, got float32, want, abs float64, n int) {
	t.Helper()
	if d := math.Abs(float64(got) - want); !(d <= tolerance(n, abs)) {
		t.Fatalf("%s: got %v, want %v (error %.3g > bound %.3g)", what, got, want, d, tolerance(n, abs))
	}
}

func TestImplementations(t *testing.T) {
	ims := implementations()
	if ims[0].name != "generic" {
		t.Fatalf("first implementation is %q, want generic", ims[0].name)
	}
	names := map[string]bool{}
	for _, im := range ims {
		if names[im.name] {
			t.Fatalf("implementation %q listed twice", im.name)
		}
		names[im.name] = true
	}
	if !names[Implementation()] {
		t.Fatalf("Implementation() = %q, not among %v", Implementation(), names)
	}
	t.Logf("implementations: %v; in use: %s", names, Implementation())
}

func TestFloatKernels(t *testing.T) {
	r := newRand(t)
	const pad = 16
	maxN := 4096
	ab, bb := randFloats(r, maxN+2*pad), randFloats(r, maxN+2*pad)
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, n := range testLengths() {
				for _, off := range testOffsets(n) {
					a := ab[off : off+n]
					b := bb[pad-off : pad-off+n]
					want, abs := refSquaredL2(a, b)
					checkClose(t, fmt.Sprintf("squaredL2 n=%d off=%d", n, off), im.squaredL2(a, b), want, abs, n)
					want, abs = refDot(a, b)
					checkClose(t, fmt.Sprintf("dot n=%d off=%d", n, off), im.dot(a, b), want, abs, n)
				}
			}
		})
	}
}

// TestFloatKernelsOffsetPairs places a and b independently: the one-to-one
// kernels pick a path by the alignment of each (an aligning head for b
// when a is misaligned, or aligned only from n=256), which the paired
// offsets of TestFloatKernels do not separate.
func TestFloatKernelsOffsetPairs(t *testing.T) {
	r := newRand(t)
	const pad = 16
	var lengths []int
	for n := 0; n <= 40; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 63, 64, 65, 95, 96, 100, 127, 128, 129, 255, 256, 257, 300, 511, 512, 768, 1000, 1536)
	offs := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if testing.Short() {
		offs = []int{0, 3, 4, 8, 15}
	}
	ab, bb := aligned64(randFloats(r, 1536+2*pad)), aligned64(randFloats(r, 1536+2*pad))
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, n := range lengths {
				for _, oa := range offs {
					for _, ob := range offs {
						a, b := ab[oa:oa+n], bb[ob:ob+n]
						what := fmt.Sprintf("n=%d offsets a=%d b=%d", n, oa, ob)
						want, abs := refSquaredL2(a, b)
						checkClose(t, "squaredL2 "+what, im.squaredL2(a, b), want, abs, n)
						want, abs = refDot(a, b)
						checkClose(t, "dot "+what, im.dot(a, b), want, abs, n)
					}
				}
			}
		})
	}
}

// aligned64 returns the longest suffix of v that starts on a 64-byte
// boundary (v is at least 4-byte aligned, so it drops at most 15 elements).
func aligned64(v []float32) []float32 {
	return v[(64-int(uintptr(unsafe.Pointer(&v[0]))%64))%64/4:]
}

// TestFloatKernelsSpecial checks inputs that random data misses: cancellation
// (a == b), large magnitudes, exact zeros and signs.
func TestFloatKernelsSpecial(t *testing.T) {
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, n := range []int{1, 7, 8, 15, 16, 17, 33, 64, 100, 129} {
				a := make([]float32, n)
				for i := range a {
					a[i] = float32(i%7) - 3
				}
				if got := im.squaredL2(a, a); got != 0 {
					t.Fatalf("squaredL2(a, a) n=%d = %v, want 0", n, got)
				}
				b := make([]float32, n)
				for i := range b {
					b[i] = 1e18
				}
				// Σ (1e18)² = n·1e36: each term is representable, the sum
				// overflows float32 (max 3.4e38) only for n ≥ 341.
				want, abs := refDot(b, b)
				checkClose(t, fmt.Sprintf("dot large n=%d", n), im.dot(b, b), want, abs, n)
				for i := range b {
					b[i] = -a[i]
				}
				want, abs = refDot(a, b)
				checkClose(t, fmt.Sprintf("dot negated n=%d", n), im.dot(a, b), want, abs, n)
				want, abs = refSquaredL2(a, b)
				checkClose(t, fmt.Sprintf("squaredL2 negated n=%d", n), im.squaredL2(a, b), want, abs, n)
			}
		})
	}
}

// guardValue fills the slots around an out slice; a kernel that writes one
// element too many (or too few rows back) overwrites it.
const guardValue = float32(-12345.678)

func guarded(n, pad int) (full, out []float32) {
	full = make([]float32, n+2*pad)
	for i := range full {
		full[i] = guardValue
	}
	return full, full[pad : pad+n]
}

func checkGuards(t *testing.T, what string, full []float32, n, pad int) {
	t.Helper()
	for i := 0; i < pad; i++ {
		if full[i] != guardValue || full[pad+n+i] != guardValue {
			t.Fatalf("%s: write outside out[0:%d]", what, n)
		}
	}
}

func batchDims() []int {
	dims := []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 96, 100, 127, 128, 129, 256, 768, 784}
	if !testing.Short() {
		dims = append(dims, 1536)
	}
	return dims
}

func batchRowCounts(r *rand.Rand) []int {
	return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 1 + r.IntN(40)}
}

func TestBatchKernels(t *testing.T) {
	r := newRand(t)
	const pad = 8
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, dim := range batchDims() {
				q := randFloats(r, dim+1)[1:] // unaligned
				for _, n := range batchRowCounts(r) {
					data := randFloats(r, n*dim+3)[3:]
					full, out := guarded(n, pad)
					im.squaredL2Batch(q, data, dim, out)
					checkGuards(t, "squaredL2Batch", full, n, pad)
					for i := range out {
						want, abs := refSquaredL2(q, data[i*dim:(i+1)*dim])
						checkClose(t, fmt.Sprintf("squaredL2Batch dim=%d n=%d row %d", dim, n, i), out[i], want, abs, dim)
					}
					full, out = guarded(n, pad)
					im.dotBatch(q, data, dim, out)
					checkGuards(t, "dotBatch", full, n, pad)
					for i := range out {
						want, abs := refDot(q, data[i*dim:(i+1)*dim])
						checkClose(t, fmt.Sprintf("dotBatch dim=%d n=%d row %d", dim, n, i), out[i], want, abs, dim)
					}
				}
			}
		})
	}
}

func TestGatherKernels(t *testing.T) {
	r := newRand(t)
	const pad = 8
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, dim := range batchDims() {
				q := randFloats(r, dim+2)[2:]
				nData := 1 + r.IntN(50)
				data := randFloats(r, nData*dim)
				for _, n := range batchRowCounts(r) {
					rows := make([]uint32, n)
					for i := range rows {
						rows[i] = uint32(r.IntN(nData)) // repeats allowed
					}
					if n > 0 {
						rows[n-1] = uint32(nData - 1) // the last row, ending at len(data)
					}
					full, out := guarded(n, pad)
					im.squaredL2Gather(q, data, dim, rows, out)
					checkGuards(t, "squaredL2Gather", full, n, pad)
					for i, row := range rows {
						want, abs := refSquaredL2(q, data[int(row)*dim:int(row+1)*dim])
						checkClose(t, fmt.Sprintf("squaredL2Gather dim=%d n=%d row %d", dim, n, i), out[i], want, abs, dim)
					}
					full, out = guarded(n, pad)
					im.dotGather(q, data, dim, rows, out)
					checkGuards(t, "dotGather", full, n, pad)
					for i, row := range rows {
						want, abs := refDot(q, data[int(row)*dim:int(row+1)*dim])
						checkClose(t, fmt.Sprintf("dotGather dim=%d n=%d row %d", dim, n, i), out[i], want, abs, dim)
					}
				}
			}
		})
	}
}

// Exact integer references, in int64 so they cannot overflow, truncated to
// the kernels' 32-bit results.
func refDotUint8(a, b []uint8) uint32 {
	var s int64
	for i := range a {
		s += int64(a[i]) * int64(b[i])
	}
	return uint32(s)
}

func refSquaredL2Uint8(a, b []uint8) uint32 {
	var s int64
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		s += d * d
	}
	return uint32(s)
}

func refDotInt8(a, b []int8) int32 {
	var s int64
	for i := range a {
		s += int64(a[i]) * int64(b[i])
	}
	return int32(s)
}

func refSquaredL2Int8(a, b []int8) uint32 {
	var s int64
	for i := range a {
		d := int64(a[i]) - int64(b[i])
		s += d * d
	}
	return uint32(s)
}

// byteFills are the contents the integer tests use besides random bytes:
// the extremes, where a widening or a signed/unsigned mix-up goes wrong.
var byteFills = []struct {
	name string
	a, b func(i int) uint8
}{
	{"max", func(int) uint8 { return 255 }, func(int) uint8 { return 255 }},
	{"max-zero", func(int) uint8 { return 255 }, func(int) uint8 { return 0 }},
	{"int8-extremes", func(int) uint8 { return 0x80 }, func(int) uint8 { return 0x7f }},
	{"int8-min", func(int) uint8 { return 0x80 }, func(int) uint8 { return 0x80 }},
	{"alternating", func(i int) uint8 { return uint8(0x80 | i&1*0x7f) }, func(i int) uint8 { return uint8(0x7f + i&1) }},
}

func TestIntKernels(t *testing.T) {
	r := newRand(t)
	const pad = 64
	maxN := 4096
	au, bu := make([]uint8, maxN+2*pad), make([]uint8, maxN+2*pad)
	fills := append([]struct {
		name string
		a, b func(i int) uint8
	}{{"random", func(int) uint8 { return uint8(r.Uint32()) }, func(int) uint8 { return uint8(r.Uint32()) }}}, byteFills...)
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, f := range fills {
				for i := range au {
					au[i], bu[i] = f.a(i), f.b(i)
				}
				ai, bi := asInt8(au), asInt8(bu)
				for _, n := range testLengths() {
					for _, off := range testOffsets(n) {
						a, b := au[off:off+n], bu[pad-off:pad-off+n]
						sa, sb := ai[off:off+n], bi[pad-off:pad-off+n]
						if got, want := im.dotUint8(a, b), refDotUint8(a, b); got != want {
							t.Fatalf("%s dotUint8 n=%d off=%d: got %d, want %d", f.name, n, off, got, want)
						}
						if got, want := im.squaredL2Uint8(a, b), refSquaredL2Uint8(a, b); got != want {
							t.Fatalf("%s squaredL2Uint8 n=%d off=%d: got %d, want %d", f.name, n, off, got, want)
						}
						if got, want := im.dotInt8(sa, sb), refDotInt8(sa, sb); got != want {
							t.Fatalf("%s dotInt8 n=%d off=%d: got %d, want %d", f.name, n, off, got, want)
						}
						if got, want := im.squaredL2Int8(sa, sb), refSquaredL2Int8(sa, sb); got != want {
							t.Fatalf("%s squaredL2Int8 n=%d off=%d: got %d, want %d", f.name, n, off, got, want)
						}
					}
				}
			}
		})
	}
}

// TestIntKernelsLimits runs the integer kernels at the longest lengths
// their doc comments promise exact results for, where the 32-bit
// accumulators come closest to wrapping.
func TestIntKernelsLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("long vectors; skipped with -short")
	}
	const nU = 66051  // 255²·66051 < 2³²
	const nI = 131071 // 128²·131071 < 2³¹
	full := make([]uint8, nI)
	zero := make([]uint8, nI)
	for i := range full {
		full[i] = 255
	}
	minus := make([]int8, nI)
	plus := make([]int8, nI)
	for i := range minus {
		minus[i], plus[i] = -128, 127
	}
	for _, im := range implementations() {
		if got, want := im.dotUint8(full[:nU], full[:nU]), refDotUint8(full[:nU], full[:nU]); got != want {
			t.Errorf("%s dotUint8 max: got %d, want %d", im.name, got, want)
		}
		if got, want := im.squaredL2Uint8(full[:nU], zero[:nU]), refSquaredL2Uint8(full[:nU], zero[:nU]); got != want {
			t.Errorf("%s squaredL2Uint8 max: got %d, want %d", im.name, got, want)
		}
		if got, want := im.dotInt8(minus, minus), refDotInt8(minus, minus); got != want {
			t.Errorf("%s dotInt8 max: got %d, want %d", im.name, got, want)
		}
		if got, want := im.squaredL2Int8(minus[:nU], plus[:nU]), refSquaredL2Int8(minus[:nU], plus[:nU]); got != want {
			t.Errorf("%s squaredL2Int8 max: got %d, want %d", im.name, got, want)
		}
	}
}

func asInt8(b []uint8) []int8 {
	s := make([]int8, len(b))
	for i, x := range b {
		s[i] = int8(x)
	}
	return s
}

func refPQ(table []float32, code []uint8) (sum, abs float64) {
	for j, c := range code {
		v := float64(table[j*256+int(c)])
		sum += v
		abs += math.Abs(v)
	}
	return sum, abs
}

func TestPQLookupSum(t *testing.T) {
	r := newRand(t)
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, m := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 64, 96, 128} {
				table := randFloats(r, 256*m+r.IntN(3)) // longer tables are allowed
				for trial := 0; trial < 20; trial++ {
					code := make([]uint8, m)
					for j := range code {
						code[j] = uint8(r.Uint32())
					}
					if trial == 0 {
						for j := range code {
							code[j] = 255 // the last entry of every sub-table
						}
					}
					want, abs := refPQ(table, code)
					checkClose(t, fmt.Sprintf("pqLookupSum m=%d", m), im.pqLookupSum(table, code), want, abs, m)
				}
				if m == 0 {
					continue
				}
				for _, n := range []int{0, 1, 2, 3, 4, 5, 8, 9, 17} {
					codes := make([]uint8, n*m)
					for j := range codes {
						codes[j] = uint8(r.Uint32())
					}
					const pad = 4
					full, out := guarded(n, pad)
					im.pqLookupSumBatch(table, codes, m, out)
					checkGuards(t, "pqLookupSumBatch", full, n, pad)
					for i := range out {
						want, abs := refPQ(table, codes[i*m:(i+1)*m])
						checkClose(t, fmt.Sprintf("pqLookupSumBatch m=%d n=%d row %d", m, n, i), out[i], want, abs, m)
					}
				}
			}
		})
	}
}

// TestPublicAPI checks that the exported, dispatched kernels agree with the
// reference: they run whichever implementation this CPU selected.
func TestPublicAPI(t *testing.T) {
	r := newRand(t)
	for _, n := range []int{0, 1, 5, 16, 100, 128, 769} {
		a, b := randFloats(r, n), randFloats(r, n)
		want, abs := refSquaredL2(a, b)
		checkClose(t, "SquaredL2", SquaredL2(a, b), want, abs, n)
		want, abs = refDot(a, b)
		checkClose(t, "Dot", Dot(a, b), want, abs, n)
		ua, ub := make([]uint8, n), make([]uint8, n)
		for i := range ua {
			ua[i], ub[i] = uint8(r.Uint32()), uint8(r.Uint32())
		}
		if DotUint8(ua, ub) != refDotUint8(ua, ub) || SquaredL2Uint8(ua, ub) != refSquaredL2Uint8(ua, ub) {
			t.Fatalf("uint8 kernels disagree with the reference at n=%d", n)
		}
		ia, ib := asInt8(ua), asInt8(ub)
		if DotInt8(ia, ib) != refDotInt8(ia, ib) || SquaredL2Int8(ia, ib) != refSquaredL2Int8(ia, ib) {
			t.Fatalf("int8 kernels disagree with the reference at n=%d", n)
		}
	}
	const dim, rows = 37, 11
	q, data := randFloats(r, dim), randFloats(r, dim*rows)
	out := make([]float32, rows)
	SquaredL2Batch(q, data, dim, out)
	idx := []uint32{10, 0, 3, 3}
	gout := make([]float32, len(idx))
	SquaredL2Gather(q, data, dim, idx, gout)
	for i := range out {
		want, abs := refSquaredL2(q, data[i*dim:(i+1)*dim])
		checkClose(t, "SquaredL2Batch", out[i], want, abs, dim)
	}
	for i, row := range idx {
		if gout[i] != out[row] {
			t.Fatalf("SquaredL2Gather row %d = %v, SquaredL2Batch = %v", row, gout[i], out[row])
		}
	}
	DotBatch(q, data, dim, out)
	DotGather(q, data, dim, idx, gout)
	for i, row := range idx {
		want, abs := refDot(q, data[int(row)*dim:int(row+1)*dim])
		checkClose(t, "DotGather", gout[i], want, abs, dim)
		if gout[i] != out[row] {
			t.Fatalf("DotGather row %d = %v, DotBatch = %v", row, gout[i], out[row])
		}
	}
	SquaredL2Batch(q, nil, dim, nil) // zero rows is fine
	table := randFloats(r, 256*4)
	codes := []uint8{1, 2, 3, 4, 255, 0, 9, 8}
	pout := make([]float32, 2)
	PQLookupSumBatch(table, codes, 4, pout)
	for i := range pout {
		if got := PQLookupSum(table, codes[i*4:(i+1)*4]); got != pout[i] {
			t.Fatalf("PQLookupSum = %v, PQLookupSumBatch = %v", got, pout[i])
		}
	}
}

func expectPanic(t *testing.T, what, msg string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("%s: no panic", what)
		}
		var s string
		switch r := r.(type) {
		case string:
			s = r
		case error:
			s = r.Error()
		}
		if !strings.Contains(s, msg) {
			t.Fatalf("%s: panic %v, want a message containing %q", what, r, msg)
		}
	}()
	f()
}

func TestPanics(t *testing.T) {
	a, b := make([]float32, 4), make([]float32, 5)
	const diff = "slices have different lengths 4 and 5"
	expectPanic(t, "SquaredL2", "SquaredL2: "+diff, func() { SquaredL2(a, b) })
	expectPanic(t, "Dot", "Dot: "+diff, func() { Dot(a, b) })
	expectPanic(t, "CosineDistance", "CosineDistance: "+diff, func() { CosineDistance(a, b) })
	ua, ub := make([]uint8, 4), make([]uint8, 5)
	expectPanic(t, "DotUint8", "DotUint8: "+diff, func() { DotUint8(ua, ub) })
	expectPanic(t, "SquaredL2Uint8", "SquaredL2Uint8: "+diff, func() { SquaredL2Uint8(ua, ub) })
	ia, ib := make([]int8, 4), make([]int8, 5)
	expectPanic(t, "DotInt8", "DotInt8: "+diff, func() { DotInt8(ia, ib) })
	expectPanic(t, "SquaredL2Int8", "SquaredL2Int8: "+diff, func() { SquaredL2Int8(ia, ib) })

	q, data := make([]float32, 4), make([]float32, 12)
	out := make([]float32, 3)
	const sizes = "inconsistent sizes"
	expectPanic(t, "SquaredL2Batch dim", sizes, func() { SquaredL2Batch(q, data, 3, out) })
	expectPanic(t, "SquaredL2Batch data", sizes, func() { SquaredL2Batch(q, data[:11], 4, out) })
	expectPanic(t, "DotBatch out", sizes, func() { DotBatch(q, data, 4, out[:2]) })
	expectPanic(t, "DotBatch zero dim", sizes, func() { DotBatch(nil, nil, 0, nil) })
	expectPanic(t, "SquaredL2Gather rows", sizes, func() { SquaredL2Gather(q, data, 4, []uint32{0}, out) })
	expectPanic(t, "DotGather range", "row 3 out of range [0,3)", func() { DotGather(q, data, 4, []uint32{0, 1, 3}, out) })
	expectPanic(t, "PQLookupSum", "PQLookupSum: table has 255 entries", func() { PQLookupSum(make([]float32, 255), []uint8{0}) })
	expectPanic(t, "PQLookupSumBatch", sizes, func() { PQLookupSumBatch(make([]float32, 512), make([]uint8, 5), 2, make([]float32, 2)) })
}

func TestCosineDistance(t *testing.T) {
	zero := make([]float32, 5)
	v := []float32{1, 2, 3, 4, 5}
	for _, c := range []struct {
		name string
		a, b []float32
		want float64
	}{
		{"zero-zero", zero, zero, 1},
		{"zero-v", zero, v, 1},
		{"v-zero", v, zero, 1},
		{"empty", nil, nil, 1},
		{"self", v, v, 0},
		{"scaled", v, []float32{2, 4, 6, 8, 10}, 0},
		{"opposite", v, []float32{-1, -2, -3, -4, -5}, 2},
		{"orthogonal", []float32{1, 0}, []float32{0, 3}, 1},
		{"45deg", []float32{1, 0}, []float32{1, 1}, 1 - math.Sqrt(0.5)},
	} {
		got := CosineDistance(c.a, c.b)
		if math.Abs(float64(got)-c.want) > 1e-6 {
			t.Errorf("%s: CosineDistance = %v, want %v", c.name, got, c.want)
		}
	}
	// Magnitudes whose squared norms overflow float32's product but not
	// the norms themselves.
	big := []float32{1e19, 1e19}
	if got := CosineDistance(big, big); math.Abs(float64(got)) > 1e-6 {
		t.Errorf("large self CosineDistance = %v, want 0", got)
	}
}

func TestNormalize(t *testing.T) {
	r := newRand(t)
	for _, n := range []int{1, 3, 16, 100, 768} {
		v := randFloats(r, n)
		orig := append([]float32(nil), v...)
		want, _ := refDot(orig, orig)
		got := Normalize(v)
		if math.Abs(float64(got)-math.Sqrt(want)) > 1e-5*math.Sqrt(want) {
			t.Fatalf("n=%d: Normalize returned %v, want norm %v", n, got, math.Sqrt(want))
		}
		if nn := Norm(v); math.Abs(float64(nn)-1) > 1e-6 {
			t.Fatalf("n=%d: norm after Normalize = %v", n, nn)
		}
		for i := range v {
			if math.Abs(float64(v[i])-float64(orig[i])/float64(got)) > 1e-6 {
				t.Fatalf("n=%d: v[%d] = %v, want %v", n, i, v[i], float64(orig[i])/float64(got))
			}
		}
	}
	zero := make([]float32, 8)
	if got := Normalize(zero); got != 0 {
		t.Fatalf("Normalize(zero) = %v, want 0", got)
	}
	for _, x := range zero {
		if x != 0 {
			t.Fatal("Normalize changed a zero vector")
		}
	}
	inf := []float32{float32(math.Inf(1)), 1}
	Normalize(inf)
	if !math.IsInf(float64(inf[0]), 1) || inf[1] != 1 {
		t.Fatalf("Normalize changed a vector with infinite norm: %v", inf)
	}
}

// TestNormalizeExtremes: finite vectors whose float32 sum of squares
// overflows or underflows are still normalised to unit length.
func TestNormalizeExtremes(t *testing.T) {
	for _, tc := range []struct {
		scale float32
		n     int
	}{{5e18, 16}, {1e30, 768}, {1e38, 4}, {1e-20, 16}, {1e-40, 8}, {1e-44, 3}} {
		v := make([]float32, tc.n)
		for i := range v {
			v[i] = tc.scale * float32(1+i%3)
		}
		orig := slices.Clone(v)
		n := Normalize(v)
		if n == 0 || math.IsNaN(float64(n)) {
			t.Fatalf("scale %g dim %d: Normalize returned %v", tc.scale, tc.n, n)
		}
		var ss float64
		for i, x := range v {
			ss += float64(x) * float64(x)
			if (x > 0) != (orig[i] > 0) {
				t.Fatalf("scale %g: sign of v[%d] changed", tc.scale, i)
			}
		}
		if math.Abs(math.Sqrt(ss)-1) > 1e-5 {
			t.Fatalf("scale %g dim %d: norm after Normalize = %v", tc.scale, tc.n, math.Sqrt(ss))
		}
	}
}

func TestMetric(t *testing.T) {
	r := newRand(t)
	for _, name := range []string{"l2", "ip", "cosine", "Euclidean", " DOT ", "cos"} {
		m, err := ParseMetric(name)
		if err != nil {
			t.Fatalf("ParseMetric(%q): %v", name, err)
		}
		if back, err := ParseMetric(m.String()); err != nil || back != m {
			t.Fatalf("ParseMetric(%q.String()) = %v, %v", m, back, err)
		}
	}
	if _, err := ParseMetric("manhattan"); err == nil {
		t.Fatal("ParseMetric accepted manhattan")
	}
	if Metric(3).Valid() || !Cosine.Valid() {
		t.Fatal("Valid is wrong")
	}
	const dim, rows = 19, 6
	q, data := randFloats(r, dim), randFloats(r, dim*rows)
	Normalize(q)
	for i := 0; i < rows; i++ {
		Normalize(data[i*dim : (i+1)*dim])
	}
	idx := []uint32{5, 1, 1}
	for _, m := range []Metric{L2, InnerProduct, Cosine} {
		k := m.Kernels()
		if k.Metric != m {
			t.Fatalf("%v.Kernels().Metric = %v", m, k.Metric)
		}
		out := make([]float32, rows)
		k.Batch(q, data, dim, out)
		gout := make([]float32, len(idx))
		k.Gather(q, data, dim, idx, gout)
		for i := range out {
			row := data[i*dim : (i+1)*dim]
			var want float64
			switch m {
			case L2:
				want, _ = refSquaredL2(q, row)
			case InnerProduct:
				want, _ = refDot(q, row)
				want = -want
			case Cosine:
				want = float64(CosineDistance(q, row))
			}
			if d := k.Distance(q, row); math.Abs(float64(d)-want) > 1e-5 {
				t.Fatalf("%v Distance row %d = %v, want %v", m, i, d, want)
			}
			if math.Abs(float64(out[i])-want) > 1e-5 {
				t.Fatalf("%v Batch row %d = %v, want %v", m, i, out[i], want)
			}
		}
		for i, row := range idx {
			if gout[i] != out[row] {
				t.Fatalf("%v Gather row %d = %v, Batch = %v", m, row, gout[i], out[row])
			}
		}
	}
}
