package flat

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// The benchmarks use Fashion-MNIST's shape, 60,000 × 784, with synthetic
// data: built lazily, so plain `go test` never pays for it.
const (
	benchN   = 60000
	benchDim = 784
	benchK   = 10
)

var benchData = sync.OnceValues(func() (*Index, []float32) {
	rng := rand.New(rand.NewPCG(42, 42))
	// Pixel-like values: a per-vector brightness times noise, so the
	// distances spread like real data rather than all being equal.
	gen := func(n int) []float32 {
		v := make([]float32, n*benchDim)
		for i := range n {
			scale := 64 + rng.Float32()*192
			for j := range benchDim {
				v[i*benchDim+j] = scale * rng.Float32()
			}
		}
		return v
	}
	ids := make([]uint64, benchN)
	for i := range ids {
		ids[i] = uint64(i)
	}
	x, err := New(Config{Dim: benchDim, Metric: distance.L2})
	if err != nil {
		panic(err)
	}
	if err := x.AddBatch(context.Background(), ids, gen(benchN)); err != nil {
		panic(err)
	}
	return x, gen(1024)
})

// reportScan reports queries per second and the rate at which vectors were
// scored in GB/s of vector data (queries × data size / time), by wall time
// and by CPU time: cpu-GB/s is the per-core rate, the steadier figure on a
// shared machine.
func reportScan(b *testing.B, queries int, cpu0 time.Duration) {
	s := b.Elapsed().Seconds()
	bytes := float64(queries) * benchN * benchDim * 4
	b.ReportMetric(float64(queries)/s, "qps")
	b.ReportMetric(bytes/s/1e9, "GB/s")
	if c := (cpuTime() - cpu0).Seconds(); c > 0 {
		b.ReportMetric(bytes/c/1e9, "cpu-GB/s")
	}
}

// BenchmarkSearch is one query at a time on one goroutine (the
// ann-benchmarks convention).
func BenchmarkSearch(b *testing.B) {
	x, qs := benchData()
	b.Run(fmt.Sprintf("impl=%s/n=%d/dim=%d/k=%d", distance.Implementation(), benchN, benchDim, benchK), func(b *testing.B) {
		dst := make([]nearkit.Result, 0, benchK)
		i := 0
		cpu0 := cpuTime()
		for b.Loop() {
			q := qs[(i%1024)*benchDim : (i%1024+1)*benchDim]
			dst, _ = x.Search(dst[:0], q, benchK, nearkit.SearchOptions{})
			i++
		}
		reportScan(b, i, cpu0)
	})
}

// BenchmarkSearchBatch searches nq queries per op on all cores with the
// query×row tiling (tile=on). tile=off runs one query per block over
// 1024-row blocks, as Search does: each query streams the whole data set,
// like a parallel loop of single searches.
func BenchmarkSearchBatch(b *testing.B) {
	x, qs := benchData()
	for _, c := range []struct {
		nq   int
		tile bool
	}{{64, false}, {64, true}, {1024, true}} {
		tl := tiling{1, scanBlock * benchDim * 4, false}
		tile := "off"
		if c.tile {
			tl, tile = tiling{maxQueryBlock, rowBlockBytes, true}, "on"
		}
		name := fmt.Sprintf("impl=%s/n=%d/dim=%d/k=%d/nq=%d/procs=%d/tile=%s",
			distance.Implementation(), benchN, benchDim, benchK, c.nq, runtime.GOMAXPROCS(0), tile)
		b.Run(name, func(b *testing.B) {
			ops := 0
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := x.searchBatch(context.Background(), qs[:c.nq*benchDim], benchK, nearkit.SearchOptions{}, tl); err != nil {
					b.Fatal(err)
				}
				ops++
			}
			reportScan(b, ops*c.nq, cpu0)
		})
	}
}

// BenchmarkMemCopy measures the machine's memory bandwidth in the same run,
// for comparison with the scan rates: copying a buffer the size of the
// benchmark data set on all cores. GB/s counts bytes copied (each is read
// once and written once, so the bus carries at least twice that).
func BenchmarkMemCopy(b *testing.B) {
	const size = benchN * benchDim * 4
	src := make([]byte, size)
	dst := make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in before timing
	for _, procs := range []int{1, runtime.GOMAXPROCS(0)} {
		b.Run(fmt.Sprintf("bytes=%d/procs=%d", size, procs), func(b *testing.B) {
			b.SetBytes(size)
			part := size / procs
			for b.Loop() {
				var wg sync.WaitGroup
				for p := range procs {
					wg.Go(func() { copy(dst[p*part:(p+1)*part], src[p*part:(p+1)*part]) })
				}
				wg.Wait()
			}
		})
	}
}

// BenchmarkSearchFiltered compares, for allow-lists of 1/frac of the rows
// at random, the gather path (path=gather, an *AllowList below the
// selectiveRatio threshold) with the full scan that asks the filter about
// candidate rows (path=scan, the same list behind a FilterFunc).
func BenchmarkSearchFiltered(b *testing.B) {
	x, qs := benchData()
	rng := rand.New(rand.NewPCG(9, 9))
	for _, frac := range []int{4, 16, 64, 512} {
		al := nearkit.NewAllowList(benchN)
		for range benchN / frac {
			al.Set(uint64(rng.IntN(benchN)))
		}
		for _, path := range []string{"scan", "gather"} {
			var f nearkit.Filter = nearkit.FilterFunc(al.Allowed)
			if path == "gather" {
				if x.selective(al) == nil {
					continue
				}
				f = al
			}
			b.Run(fmt.Sprintf("allowed=1/%d/path=%s", frac, path), func(b *testing.B) {
				dst := make([]nearkit.Result, 0, benchK)
				i := 0
				cpu0 := cpuTime()
				for b.Loop() {
					q := qs[(i%1024)*benchDim : (i%1024+1)*benchDim]
					dst, _ = x.Search(dst[:0], q, benchK, nearkit.SearchOptions{Filter: f})
					i++
				}
				b.ReportMetric(float64(i)/(cpuTime()-cpu0).Seconds(), "cpu-qps")
			})
		}
	}
}
