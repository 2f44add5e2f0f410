package pq

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

// TestFastScanKernels runs every kernel the CPU supports against the
// generic one: exact equality, all pair counts, partial and empty scans,
// and guard values after the output.
func TestFastScanKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pairs := []int{1, 2, 3, 4, 6, 8, 16, 32, 64, 127, 128}
	for _, impl := range fastScanImpls() {
		for _, np := range pairs {
			for _, nb := range []int{0, 1, 2, 5} {
				codes := make([]byte, nb*np*32+7)
				lut := make([]byte, np*32)
				for i := range codes {
					codes[i] = byte(rng.Uint32())
				}
				for i := range lut {
					lut[i] = byte(rng.Uint32())
				}
				if np == 128 && nb == 1 {
					// Largest sums: every entry 255.
					for i := range lut {
						lut[i] = 255
					}
				}
				want := make([]uint16, nb*32)
				fastScanGeneric(codes, lut, np, nb, want)
				got := make([]uint16, nb*32+4)
				for i := range got {
					got[i] = 0xdead
				}
				impl.fn(codes, lut, np, nb, got)
				if !slices.Equal(got[:nb*32], want) {
					t.Fatalf("%s nPairs=%d nBlocks=%d: differs from generic\n got %v\nwant %v", impl.name, np, nb, got[:nb*32], want)
				}
				for _, g := range got[nb*32:] {
					if g != 0xdead {
						t.Fatalf("%s nPairs=%d nBlocks=%d: wrote past the output", impl.name, np, nb)
					}
				}
				if np == 128 && nb == 1 && want[0] != 255*256 {
					t.Fatalf("max sum %d, want %d", want[0], 255*256)
				}
			}
		}
	}
	t.Logf("fast-scan implementations: %d, in use: %s", len(fastScanImpls()), FastScanImplementation())
}

// TestFastScanReference checks the generic kernel itself against a direct
// per-code sum over unpacked nibbles.
func TestFastScanReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const np, nb = 3, 2
	codes := make([]byte, nb*np*32)
	lut := make([]byte, np*32)
	for i := range codes {
		codes[i] = byte(rng.Uint32())
	}
	for i := range lut {
		lut[i] = byte(rng.IntN(256))
	}
	out := make([]uint16, nb*32)
	fastScanGeneric(codes, lut, np, nb, out)
	for b := range nb {
		for v := range 32 {
			want := 0
			for s := range 2 * np {
				byt := codes[b*np*32+(s/2)*32+(s%2)*16+v%16]
				nib := byt & 15
				if v >= 16 {
					nib = byt >> 4
				}
				want += int(lut[(s/2)*32+(s%2)*16+int(nib)])
			}
			if int(out[b*32+v]) != want {
				t.Fatalf("block %d code %d: %d, want %d", b, v, out[b*32+v], want)
			}
		}
	}
}

func fastScanFixture(t testing.TB, n, dim, m int) (*ProductQuantizer, []float32, []byte) {
	t.Helper()
	train := pqtest.Correlated(31, 2000, dim)
	p := trainedPQ(t, Config{Dim: dim, M: m, NBits: 4, Iterations: 8, Seed: 5}, train)
	data := pqtest.Correlated(31, n, dim)
	codes := make([]byte, n*p.CodeSize())
	if err := p.EncodeBatch(context.Background(), codes, data); err != nil {
		t.Fatal(err)
	}
	return p, data, codes
}

func TestFastScanSearch(t *testing.T) {
	for _, m := range []int{16, 5, 2} {
		t.Run(fmt.Sprintf("M=%d", m), func(t *testing.T) {
			dim := 4 * m
			n := 3000 + 17 // a partial last block
			p, data, codes := fastScanFixture(t, n, dim, m)
			f, err := NewFastScan(p)
			if err != nil {
				t.Fatal(err)
			}
			// Add in two uneven parts to exercise partial blocks.
			cs := p.CodeSize()
			if err := f.Add(codes[:1000*cs]); err != nil {
				t.Fatal(err)
			}
			if err := f.Add(codes[1000*cs:]); err != nil {
				t.Fatal(err)
			}
			if f.Len() != n {
				t.Fatalf("Len %d", f.Len())
			}
			// The scan sums equal the quantized table summed per code.
			table, _ := p.LookupTable(nil, data[:dim])
			qlut := make([]byte, f.nPairs*32)
			f.quantizeLUT(table, qlut)
			nBlocks := (n + 31) / 32
			sums := make([]uint16, nBlocks*32)
			fastScan(f.blocks, qlut, f.nPairs, nBlocks, sums)
			for i := range n {
				want := 0
				for s := range m {
					nib := codes[i*cs+s/2] >> (4 * (s % 2)) & 15
					want += int(qlut[(s/2)*32+(s%2)*16+int(nib)])
				}
				if int(sums[i]) != want {
					t.Fatalf("code %d: scan %d, want %d", i, sums[i], want)
				}
			}
			// Search against brute-force exact ADC.
			hits, total := 0, 0
			out := make([]float32, n)
			for qi := range 20 {
				q := data[(n-1-qi)*dim : (n-qi)*dim]
				table, _ := p.LookupTable(nil, q)
				p.Distances(table, codes, out)
				truth := topK(n, 10, func(i int) float64 { return float64(out[i]) })
				res, err := f.Search(nil, q, 10, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != 10 {
					t.Fatalf("%d results", len(res))
				}
				for i, r := range res {
					if r.Distance != out[r.ID] {
						t.Fatalf("result %d: distance %v, exact ADC %v", i, r.Distance, out[r.ID])
					}
					if i > 0 && nearkit.CompareResults(res[i-1], r) > 0 {
						t.Fatalf("results not sorted: %v", res)
					}
					if slices.Contains(truth, int(r.ID)) {
						hits++
					}
					total++
				}
			}
			recall := float64(hits) / float64(total)
			t.Logf("M=%d: fast-scan + rerank(40) recall@10 vs exact ADC: %.3f", m, recall)
			if recall < 0.9 {
				t.Errorf("recall %.3f", recall)
			}
		})
	}
}

func TestFastScanErrors(t *testing.T) {
	p8 := trainedPQ(t, Config{Dim: 8, M: 4, Iterations: 2}, pqtest.Uniform(1, 300, 8))
	if _, err := NewFastScan(p8); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("8-bit: %v", err)
	}
	un, _ := New(Config{Dim: 8, M: 4, NBits: 4})
	if _, err := NewFastScan(un); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
	p4 := trainedPQ(t, Config{Dim: 8, M: 4, NBits: 4, Iterations: 2}, pqtest.Uniform(1, 300, 8))
	f, _ := NewFastScan(p4)
	if err := f.Add(make([]byte, 3)); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("ragged codes: %v", err)
	}
	if res, err := f.Search(nil, make([]float32, 8), 5, 0); err != nil || len(res) != 0 {
		t.Errorf("empty store: %v %v", res, err)
	}
	if _, err := f.Search(nil, make([]float32, 8), 0, 0); !errors.Is(err, nearkit.ErrInvalidK) {
		t.Errorf("k=0: %v", err)
	}
	if _, err := f.Search(nil, make([]float32, 7), 1, 0); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short query: %v", err)
	}
	_ = f.Add(make([]byte, 3*p4.CodeSize()))
	if res, _ := f.Search(nil, make([]float32, 8), 10, 0); len(res) != 3 {
		t.Errorf("k > n: %d results", len(res))
	}
}

func ExampleFastScan() {
	data := pqtest.Uniform(1, 2000, 16)
	p, _ := New(Config{Dim: 16, M: 8, NBits: 4, Seed: 1})
	if err := p.Train(context.Background(), data); err != nil {
		panic(err)
	}
	codes := make([]byte, 2000*p.CodeSize())
	_ = p.EncodeBatch(context.Background(), codes, data)
	f, _ := NewFastScan(p)
	_ = f.Add(codes)
	res, _ := f.Search(nil, data[5*16:6*16], 1, 0)
	fmt.Println(p.CodeSize(), "bytes per code; nearest code to vector 5:", res[0].ID)
	// Output: 4 bytes per code; nearest code to vector 5: 5
}

// BenchmarkScan compares, in one run, the fast-scan kernel over 1M codes of
// M=16 × 4 bits with distance.PQLookupSumBatch over 1M codes of M=16 ×
// 8 bits (the fast-scan should be at least 5× faster), reporting codes/s.
func BenchmarkScan(b *testing.B) {
	const n, m = 1 << 20, 16
	rng := rand.New(rand.NewPCG(9, 9))
	codes8 := make([]byte, n*m)
	for i := range codes8 {
		codes8[i] = byte(rng.Uint32())
	}
	table := make([]float32, m*256)
	for i := range table {
		table[i] = rng.Float32()
	}
	b.Run("kind=pq8-lookupsum", func(b *testing.B) {
		out := make([]float32, 4096)
		for b.Loop() {
			for lo := 0; lo < n; lo += 4096 {
				distance.PQLookupSumBatch(table, codes8[lo*m:(lo+4096)*m], m, out)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "codes/s")
	})
	np := m / 2
	blocks := make([]byte, n/32*np*32)
	for i := range blocks {
		blocks[i] = byte(rng.Uint32())
	}
	lut := make([]byte, np*32)
	for i := range lut {
		lut[i] = byte(rng.Uint32())
	}
	for _, impl := range fastScanImpls() {
		b.Run("kind=fastscan4/impl="+impl.name, func(b *testing.B) {
			out := make([]uint16, scanChunk*32)
			bs := np * 32
			for b.Loop() {
				for b0 := 0; b0 < n/32; b0 += scanChunk {
					impl.fn(blocks[b0*bs:(b0+scanChunk)*bs], lut, np, scanChunk, out)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "codes/s")
		})
	}
}

// BenchmarkFastScanSearch is a whole top-10 search (scan, candidate
// selection, re-ranking) over 1M 16×4-bit codes.
func BenchmarkFastScanSearch(b *testing.B) {
	const n, dim, m = 1 << 20, 64, 16
	train := pqtest.Correlated(31, 4000, dim)
	p := trainedPQ(b, Config{Dim: dim, M: m, NBits: 4, Iterations: 8, Seed: 5}, train)
	codes := make([]byte, n*p.CodeSize())
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range codes {
		codes[i] = byte(rng.Uint32())
	}
	f, _ := NewFastScan(p)
	_ = f.Add(codes)
	q := train[:dim]
	var res []nearkit.Result
	for b.Loop() {
		res, _ = f.Search(res, q, 10, 0)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "codes/s")
}

// TestQuantizeFastScanLUT compares the float32 rounding of
// QuantizeFastScanLUT with math.Round in float64: equal except within
// float32 rounding of a half, clamped at 0 and 255, padding pairs zero.
func TestQuantizeFastScanLUT(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, m := range []int{1, 2, 3, 16, 28, 56} {
		table := make([]float32, m*16)
		mins := make([]float32, m)
		for s := range m {
			for j := range 16 {
				table[s*16+j] = float32(rng.NormFloat64() * 5)
			}
			mins[s] = slices.Min(table[s*16 : (s+1)*16])
		}
		// Some entries below their minimum and some far above the range
		// exercise the clamps.
		table[0] = mins[0] - 3
		table[m*16-1] += 100
		scale := float32(255 / 20.0)
		np := FastScanPairs(m)
		dst := make([]byte, np*32+3)
		for i := range dst {
			dst[i] = 0xa5
		}
		QuantizeFastScanLUT(dst, table, m, mins, scale)
		for s := range 2 * np {
			for j := range 16 {
				got := dst[(s/2)*32+(s%2)*16+j]
				if s >= m {
					if got != 0 {
						t.Fatalf("m %d: padding subquantizer %d entry %d = %d", m, s, j, got)
					}
					continue
				}
				x := float64((table[s*16+j] - mins[s]) * scale)
				want := max(0, min(255, math.Round(x)))
				frac := x - math.Floor(x)
				if float64(got) != want && !(math.Abs(frac-0.5) < 1e-5 && math.Abs(float64(got)-want) == 1) {
					t.Fatalf("m %d: entry %d of subquantizer %d = %d, want %v (x = %v)", m, j, s, got, want, x)
				}
			}
		}
		for _, g := range dst[np*32:] {
			if g != 0xa5 {
				t.Fatalf("m %d: write past the table", m)
			}
		}
	}
}
