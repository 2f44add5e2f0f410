package ivf

import (
	"fmt"
	"testing"

	"github.com/nearkit/nearkit"
)

// BenchmarkSearch measures one query at a time on clustered synthetic
// data; run with -benchmem to see the steady-state allocations (0).
func BenchmarkSearch(b *testing.B) {
	const dim, n, nq = 64, 20000, 100
	all := clustered(n+nq, dim, 64, 11)
	data, queries := all[:n*dim], all[n*dim:]
	for _, tc := range []struct {
		name string
		cfg  Config
		opts nearkit.SearchOptions
	}{
		{"enc=flat", Config{Encoding: Flat}, nearkit.SearchOptions{NProbe: 8}},
		{"enc=sq8", Config{Encoding: SQ8}, nearkit.SearchOptions{NProbe: 8}},
		{"enc=pq", Config{Encoding: PQ, M: 16}, nearkit.SearchOptions{NProbe: 8}},
		{"enc=pq/rerank=4", Config{Encoding: PQ, M: 16, KeepVectors: true}, nearkit.SearchOptions{NProbe: 8, Rerank: 4}},
		{"enc=pqfs", Config{Encoding: PQFastScan, M: 16}, nearkit.SearchOptions{NProbe: 8}},
		{"enc=pqfs/rerank=4", Config{Encoding: PQFastScan, M: 16, KeepVectors: true}, nearkit.SearchOptions{NProbe: 8, Rerank: 4}},
		// 16-byte codes, as enc=pq's M=16 8-bit ones (issue 11's pairing).
		{"enc=pqfs/m=32", Config{Encoding: PQFastScan, M: 32}, nearkit.SearchOptions{NProbe: 8}},
		{"enc=pqfs/m=32/rerank=4", Config{Encoding: PQFastScan, M: 32, KeepVectors: true}, nearkit.SearchOptions{NProbe: 8, Rerank: 4}},
	} {
		cfg := tc.cfg
		cfg.Dim, cfg.NList = dim, 64
		x := build(b, cfg, data)
		b.Run(fmt.Sprintf("%s/nprobe=%d", tc.name, tc.opts.NProbe), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]nearkit.Result, 0, 10)
			i := 0
			for b.Loop() {
				dst, _ = x.Search(dst[:0], queries[(i%nq)*dim:(i%nq+1)*dim], 10, tc.opts)
				i++
			}
		})
	}
}

// BenchmarkRerankPrefetch pairs re-ranking from the lists with and without
// the prefetch of the next candidate's row, alternating sub-benchmarks
// (run with -count 6 and compare medians), on 784-d clustered data whose
// kept vectors (20,000 × 3 KiB) exceed the L2 cache.
func BenchmarkRerankPrefetch(b *testing.B) {
	const dim, n, nq = 784, 20000, 200
	all := clustered(n+nq, dim, 64, 12)
	data, queries := all[:n*dim], all[n*dim:]
	x := build(b, Config{Dim: dim, NList: 64, Encoding: PQFastScan, M: 16, KeepVectors: true, Iterations: 8}, data)
	opts := nearkit.SearchOptions{NProbe: 4, Rerank: 10}
	defer func() { rerankPrefetch = true }()
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("prefetch=%v", on), func(b *testing.B) {
			rerankPrefetch = on
			b.ReportAllocs()
			dst := make([]nearkit.Result, 0, 10)
			i := 0
			for b.Loop() {
				dst, _ = x.Search(dst[:0], queries[(i%nq)*dim:(i%nq+1)*dim], 10, opts)
				i++
			}
		})
	}
}
