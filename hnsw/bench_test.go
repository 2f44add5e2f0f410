package hnsw

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
)

// BenchmarkSearch: one query at a time on synthetic clustered data; run
// with -benchmem (0 allocs/op expected). The distances/op metric shows the
// work per query.
func BenchmarkSearch(b *testing.B) {
	const n, dim = 20000, 128
	rng := rand.New(rand.NewPCG(1, 2))
	data := clustered(rng, n+1000, dim)
	x := build(b, Config{Dim: dim, Seed: 1}, data[:n*dim])
	queries := data[n*dim:]
	for _, ef := range []int{10, 40, 160} {
		b.Run(fmt.Sprintf("dim=%d/ef=%d", dim, ef), func(b *testing.B) {
			dst := make([]nearkit.Result, 0, 10)
			var st nearkit.SearchStats
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				q := queries[(i%1000)*dim : (i%1000+1)*dim]
				dst, _ = x.SearchWithStats(dst[:0], q, 10, nearkit.SearchOptions{Ef: ef}, &st)
				i++
			}
			b.ReportMetric(float64(st.Distances)/float64(i), "distances/op")
		})
	}
}

// BenchmarkBuild: insertion throughput, single-threaded (Add) and parallel
// (AddBatch on GOMAXPROCS goroutines).
func BenchmarkBuild(b *testing.B) {
	const n, dim = 5000, 64
	data := clustered(rand.New(rand.NewPCG(3, 4)), n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	b.Run("mode=add", func(b *testing.B) {
		for b.Loop() {
			build(b, Config{Dim: dim}, data)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	})
	b.Run("mode=batch", func(b *testing.B) {
		for b.Loop() {
			x, _ := New(Config{Dim: dim})
			if err := x.AddBatch(b.Context(), ids, data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
	})
}
