//go:build gc && !purego && (linux || darwin)

package distance

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// The build constraint limits these tests to the systems whose syscall
// package has Mmap and Mprotect (for the guard page); elsewhere the shared
// differential tests still run the NEON implementation.
//
// These tests call the NEON kernels directly, so both uint8 variants (UDOT
// and UMULL/UADALP) run whatever the CPU reports; the shared differential
// tests only see the variant the registry picked. Under qemu-aarch64 (which
// emulates a CPU with the dot-product extension) they run in a few seconds.

// armLengths are the vector lengths every kernel is checked at: all of
// 0..300 exercise every combination of main loop and tail steps; the large
// ones are the embedding sizes indexes use.
func armLengths() []int {
	var ls []int
	for n := 0; n <= 300; n++ {
		ls = append(ls, n)
	}
	return append(ls, 768, 784, 1024, 1536, 4096)
}

// armOffsets returns the sub-slice offsets to test length n at. Offsets
// 0..15 cover every alignment of a 16-byte load of float32 (and of uint8);
// for large n under -short a few suffice.
func armOffsets(n int) []int {
	if n > 300 && testing.Short() {
		return []int{0, 1, 3}
	}
	return []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
}

const armGuard = 16

// f32Window returns a[off:off+n] of a backing slice whose other elements
// are NaN: a kernel that reads even one element before or after the window
// returns NaN.
func f32Window(rng *rand.Rand, off, n int) []float32 {
	back := make([]float32, off+n+armGuard)
	for i := range back {
		back[i] = float32(math.NaN())
	}
	w := back[off : off+n]
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	return w
}

// dotRef returns Σ a[i]*b[i] in float64 (products exact, sum error
// negligible at these lengths) and Σ |a[i]*b[i]|.
func dotRef(a, b []float32) (s, abs float64) {
	for i := range a {
		t := float64(a[i]) * float64(b[i])
		s += t
		abs += math.Abs(t)
	}
	return s, abs
}

func l2Ref(a, b []float32) (s, abs float64) {
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s, s
}

// f32Bound is the error allowed for a float32 sum of n terms computed in
// any order: each of the at most n-1 additions (and the rounding of each
// product, or of the difference before squaring) contributes at most
// one unit roundoff u = 2⁻²⁴ relative to the magnitude of the terms it
// touches, so |err| ≤ (n+4)·u·Σ|termᵢ| to first order; the +4 covers the
// difference rounding doubled by squaring and the final pairwise
// reduction. It is never below the float32 spacing around zero.
func f32Bound(n int, abs float64) float64 {
	return float64(n+4)*0x1p-24*abs + 0x1p-126
}

func TestNEONFloat32Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kernels := []struct {
		name string
		f    func(a, b []float32) float32
		ref  func(a, b []float32) (float64, float64)
	}{
		{"dotNEON", dotNEON, dotRef},
		{"squaredL2NEON", squaredL2NEON, l2Ref},
	}
	for _, k := range kernels {
		for _, n := range armLengths() {
			for _, off := range armOffsets(n) {
				a := f32Window(rng, off, n)
				b := f32Window(rng, (off+7)%16, n)
				got := k.f(a, b)
				want, abs := k.ref(a, b)
				if err := math.Abs(float64(got) - want); !(err <= f32Bound(n, abs)) {
					t.Fatalf("%s n=%d off=%d: got %v, want %v (error %g > bound %g)",
						k.name, n, off, got, want, err, f32Bound(n, abs))
				}
			}
		}
	}
}

// TestNEONFloat32Special checks that NaN and infinities in any position,
// the tails included, reach the result.
func TestNEONFloat32Special(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100} {
		for pos := range n {
			a := make([]float32, n)
			b := make([]float32, n)
			for i := range a {
				a[i], b[i] = 1, 2
			}
			a[pos] = float32(math.Inf(1))
			if got := dotNEON(a, b); !math.IsInf(float64(got), 1) {
				t.Fatalf("dotNEON n=%d inf at %d: got %v", n, pos, got)
			}
			if got := squaredL2NEON(a, b); !math.IsInf(float64(got), 1) {
				t.Fatalf("squaredL2NEON n=%d inf at %d: got %v", n, pos, got)
			}
			a[pos] = float32(math.NaN())
			if got := dotNEON(a, b); !math.IsNaN(float64(got)) {
				t.Fatalf("dotNEON n=%d NaN at %d: got %v", n, pos, got)
			}
			if got := squaredL2NEON(a, b); !math.IsNaN(float64(got)) {
				t.Fatalf("squaredL2NEON n=%d NaN at %d: got %v", n, pos, got)
			}
		}
	}
}

// TestNEONBatchGather checks the batch and gather kernels against the
// one-to-one kernel they inline (bit for bit: same instructions, same
// order), with guard values after out that must survive.
func TestNEONBatchGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dims := []int{1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 100, 128, 256, 768, 784}
	const sentinel = -12345.5
	for _, dim := range dims {
		for _, rowsN := range []int{0, 1, 2, 5, 9} {
			off := rng.IntN(16)
			q := f32Window(rng, off, dim)
			data := f32Window(rng, (off+5)%16, rowsN*dim)
			outBack := make([]float32, rowsN+armGuard)
			for i := range outBack {
				outBack[i] = sentinel
			}
			out := outBack[:rowsN]
			checkGuard := func(what string) {
				t.Helper()
				for i, v := range outBack[rowsN:] {
					if v != sentinel {
						t.Fatalf("%s dim=%d rows=%d: wrote %v past out at %d", what, dim, rowsN, v, i)
					}
				}
			}
			for _, k := range []struct {
				name  string
				one   func(a, b []float32) float32
				batch func(q, data []float32, dim int, out []float32)
			}{
				{"dotBatchNEON", dotNEON, dotBatchNEON},
				{"squaredL2BatchNEON", squaredL2NEON, squaredL2BatchNEON},
			} {
				k.batch(q, data, dim, out)
				checkGuard(k.name)
				for i := range out {
					want := k.one(q, data[i*dim:(i+1)*dim])
					if out[i] != want {
						t.Fatalf("%s dim=%d row %d: got %v, want %v", k.name, dim, i, out[i], want)
					}
				}
			}

			// Gather: rows in random order with repeats, from a pool of
			// rowsN rows, and as many outputs as rows asked for.
			if rowsN == 0 {
				continue
			}
			nSel := rng.IntN(2*rowsN) + 1
			rows := make([]uint32, nSel)
			for i := range rows {
				rows[i] = uint32(rng.IntN(rowsN))
			}
			outBack = make([]float32, nSel+armGuard)
			for i := range outBack {
				outBack[i] = sentinel
			}
			out = outBack[:nSel]
			for _, k := range []struct {
				name   string
				one    func(a, b []float32) float32
				gather func(q, data []float32, dim int, rows []uint32, out []float32)
			}{
				{"dotGatherNEON", dotNEON, dotGatherNEON},
				{"squaredL2GatherNEON", squaredL2NEON, squaredL2GatherNEON},
			} {
				k.gather(q, data, dim, rows, out)
				for i, v := range outBack[nSel:] {
					if v != sentinel {
						t.Fatalf("%s dim=%d: wrote %v past out at %d", k.name, dim, v, i)
					}
				}
				for i, r := range rows {
					want := k.one(q, data[int(r)*dim:int(r+1)*dim])
					if out[i] != want {
						t.Fatalf("%s dim=%d out[%d] (row %d): got %v, want %v", k.name, dim, i, r, out[i], want)
					}
				}
			}
		}
	}
}

// u8Window returns back[off:off+n] with the bytes around it set to 255, so
// an over-read changes the (exact) result.
func u8Window(rng *rand.Rand, off, n int, fill func(*rand.Rand) uint8) []uint8 {
	back := make([]uint8, off+n+armGuard)
	for i := range back {
		back[i] = 255
	}
	w := back[off : off+n]
	for i := range w {
		w[i] = fill(rng)
	}
	return w
}

type u8Kernel struct {
	name string
	f    func(a, b []uint8) uint32
	ref  func(a, b []uint8) uint32
}

func u8Kernels(t *testing.T) []u8Kernel {
	ks := []u8Kernel{
		{"dotUint8NEON", dotUint8NEON, dotUint8Generic},
		{"squaredL2Uint8NEON", squaredL2Uint8NEON, squaredL2Uint8Generic},
	}
	if useDotProd {
		ks = append(ks,
			u8Kernel{"dotUint8DotProd", dotUint8DotProd, dotUint8Generic},
			u8Kernel{"squaredL2Uint8DotProd", squaredL2Uint8DotProd, squaredL2Uint8Generic})
	} else {
		t.Log("CPU lacks the dot-product extension: UDOT kernels not tested")
	}
	return ks
}

func TestNEONUint8Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(r *rand.Rand) uint8 { return uint8(r.Uint32()) }
	zero := func(*rand.Rand) uint8 { return 0 }
	max := func(*rand.Rand) uint8 { return 255 }
	// The a/b fills: random bytes, the largest products (255·255), and the
	// largest differences (255 against 0, both ways, which UABD must treat
	// as 255 and not as a wrapped 1).
	fills := [][2]func(*rand.Rand) uint8{{random, random}, {max, max}, {max, zero}, {zero, max}}
	for _, k := range u8Kernels(t) {
		for fi, fill := range fills {
			for _, n := range armLengths() {
				for _, off := range armOffsets(n) {
					a := u8Window(rng, off, n, fill[0])
					b := u8Window(rng, (off+9)%16, n, fill[1])
					if got, want := k.f(a, b), k.ref(a, b); got != want {
						t.Fatalf("%s fill=%d n=%d off=%d: got %d, want %d", k.name, fi, n, off, got, want)
					}
				}
			}
		}
	}
}

// TestNEONUint8Wrap checks that past the overflow-free length the kernels
// wrap modulo 2³² exactly as the generic uint32 accumulators do.
func TestNEONUint8Wrap(t *testing.T) {
	const n = 70001 // > 66,051: 255²·n overflows uint32
	a := make([]uint8, n)
	b := make([]uint8, n)
	for i := range a {
		a[i] = 255
	}
	for _, k := range u8Kernels(t) {
		bb := a
		if k.name[:3] == "squ" {
			bb = b // |255-0|² per element
		}
		if got, want := k.f(a, bb), k.ref(a, bb); got != want {
			t.Fatalf("%s n=%d: got %d, want %d", k.name, n, got, want)
		}
	}
}

func TestNEONDispatch(t *testing.T) {
	if !useNEON {
		t.Skip("CPU does not report ASIMD")
	}
	if got := Implementation(); got != "neon" {
		t.Fatalf("Implementation() = %q, want neon", got)
	}
	var found bool
	for _, im := range implementations() {
		found = found || im.name == "neon"
	}
	if !found {
		t.Fatal("implementations() lacks neon")
	}
	// The public API must run the NEON kernels: identical bits.
	rng := rand.New(rand.NewPCG(7, 8))
	a := f32Window(rng, 0, 100)
	b := f32Window(rng, 3, 100)
	if SquaredL2(a, b) != squaredL2NEON(a, b) || Dot(a, b) != dotNEON(a, b) {
		t.Fatal("public API does not dispatch to NEON")
	}
}

type i8Kernel struct {
	name string
	f    func(a, b []int8) int64
	ref  func(a, b []int8) int64
}

func i8Kernels(t *testing.T) []i8Kernel {
	dot := func(f func(a, b []int8) int32) func(a, b []int8) int64 {
		return func(a, b []int8) int64 { return int64(f(a, b)) }
	}
	l2 := func(f func(a, b []int8) uint32) func(a, b []int8) int64 {
		return func(a, b []int8) int64 { return int64(f(a, b)) }
	}
	ks := []i8Kernel{
		{"dotInt8NEON", dot(dotInt8NEON), dot(dotInt8Generic)},
		{"squaredL2Int8NEON", l2(squaredL2Int8NEON), l2(squaredL2Int8Generic)},
	}
	if useDotProd {
		ks = append(ks,
			i8Kernel{"dotInt8DotProd", dot(dotInt8DotProd), dot(dotInt8Generic)},
			i8Kernel{"squaredL2Int8DotProd", l2(squaredL2Int8DotProd), l2(squaredL2Int8Generic)})
	} else {
		t.Log("CPU lacks the dot-product extension: SDOT/UDOT kernels not tested")
	}
	return ks
}

// i8Window returns back[off:off+n] with the bytes around it set to -128,
// so an over-read changes the (exact) result.
func i8Window(rng *rand.Rand, off, n int, fill func(*rand.Rand) int8) []int8 {
	back := make([]int8, off+n+armGuard)
	for i := range back {
		back[i] = -128
	}
	w := back[off : off+n]
	for i := range w {
		w[i] = fill(rng)
	}
	return w
}

func TestNEONInt8Kernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	random := func(r *rand.Rand) int8 { return int8(r.Uint32()) }
	lo := func(*rand.Rand) int8 { return -128 }
	hi := func(*rand.Rand) int8 { return 127 }
	// Random bytes, the largest product ((-128)²), the most negative one
	// (-128·127), and the largest differences (127 against -128 both ways:
	// 255, which SABD must deliver unsigned).
	fills := [][2]func(*rand.Rand) int8{{random, random}, {lo, lo}, {lo, hi}, {hi, lo}}
	for _, k := range i8Kernels(t) {
		for fi, fill := range fills {
			for _, n := range armLengths() {
				for _, off := range armOffsets(n) {
					a := i8Window(rng, off, n, fill[0])
					b := i8Window(rng, (off+9)%16, n, fill[1])
					if got, want := k.f(a, b), k.ref(a, b); got != want {
						t.Fatalf("%s fill=%d n=%d off=%d: got %d, want %d", k.name, fi, n, off, got, want)
					}
				}
			}
		}
	}
}

// TestNEONInt8Wrap checks wrapping past the overflow-free lengths.
func TestNEONInt8Wrap(t *testing.T) {
	const n = 140001 // 16384·n overflows int32; 255²·n overflows uint32
	a := make([]int8, n)
	b := make([]int8, n)
	for i := range a {
		a[i], b[i] = -128, 127
	}
	for _, k := range i8Kernels(t) {
		bb := a
		if k.name[:3] == "squ" {
			bb = b
		}
		if got, want := k.f(a, bb), k.ref(a, bb); got != want {
			t.Fatalf("%s n=%d: got %d, want %d", k.name, n, got, want)
		}
	}
}

// TestNEONGuardPage places vectors so they end exactly at an inaccessible
// page: a kernel that loads even one byte past the end faults. This catches
// over-reads whose value never reaches the result (the NaN and 255 guards
// above only catch those that do).
func TestNEONGuardPage(t *testing.T) {
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	u := mem[:page]
	for i := range u {
		u[i] = byte(i*7 + 1)
	}
	f := unsafe.Slice((*float32)(unsafe.Pointer(&u[0])), page/4)
	for i := range f {
		f[i] = float32(i%13) - 6
	}
	i8 := unsafe.Slice((*int8)(unsafe.Pointer(&u[0])), page)
	out := make([]float32, 3)
	rows := []uint32{2, 0, 1}
	for n := 0; n <= min(300, page/16); n++ {
		// Each vector in turn ends at the guard page.
		lo, hi := f[:n], f[len(f)-n:]
		dotNEON(lo, hi)
		dotNEON(hi, lo)
		squaredL2NEON(lo, hi)
		squaredL2NEON(hi, lo)
		if n > 0 {
			// Three rows of dimension n, the last one ending at the guard.
			data := f[len(f)-3*n:]
			dotBatchNEON(lo, data, n, out)
			squaredL2BatchNEON(lo, data, n, out)
			dotGatherNEON(lo, data, n, rows, out)
			squaredL2GatherNEON(lo, data, n, rows, out)
		}

		ulo, uhi := u[:n], u[len(u)-n:]
		ilo, ihi := i8[:n], i8[len(i8)-n:]
		for _, swap := range []bool{false, true} {
			if swap {
				ulo, uhi, ilo, ihi = uhi, ulo, ihi, ilo
			}
			dotUint8NEON(ulo, uhi)
			squaredL2Uint8NEON(ulo, uhi)
			dotInt8NEON(ilo, ihi)
			squaredL2Int8NEON(ilo, ihi)
			if useDotProd {
				dotUint8DotProd(ulo, uhi)
				squaredL2Uint8DotProd(ulo, uhi)
				dotInt8DotProd(ilo, ihi)
				squaredL2Int8DotProd(ilo, ihi)
			}
		}
	}
}
