//go:build unix

package hnsw

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/heap"
)

// BenchmarkSearchFile searches an index saved by Save
// ($NEARKIT_BENCH_INDEX) with the queries and ground truth of a
// path-prefix data set ($NEARKIT_BENCH_DATA: X_query.fvecs, X_gt.ivecs),
// one query at a time, at the beam widths of $NEARKIT_BENCH_EF (default
// 20,40,80,160). On a QGraph index each ef runs twice on the same graph
// and storage: path=qgraph (the index's own search) and path=float32
// (the float32 walk), so their ratio isolates the search itself. It is
// the profiling target for real data:
//
//	NEARKIT_BENCH_INDEX=g.hnsw NEARKIT_BENCH_DATA=/tmp/glove go test ./hnsw \
//	    -run '^$' -bench SearchFile -cpuprofile cpu.out
func BenchmarkSearchFile(b *testing.B) {
	path, prefix := os.Getenv("NEARKIT_BENCH_INDEX"), os.Getenv("NEARKIT_BENCH_DATA")
	if path == "" || prefix == "" {
		b.Skip("set NEARKIT_BENCH_INDEX and NEARKIT_BENCH_DATA")
	}
	x, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	queries, dim, err := dataset.LoadVecs(prefix+"_query.fvecs", 0)
	if err != nil {
		b.Fatal(err)
	}
	if dim != x.Dim() {
		b.Fatalf("queries are %d-d, the index %d-d", dim, x.Dim())
	}
	gt, gk, err := dataset.LoadIvecs(prefix+"_gt.ivecs", 0)
	if err != nil {
		b.Fatal(err)
	}
	const k = 10
	nq := min(len(queries)/dim, len(gt)/gk)
	efs := []int{20, 40, 80, 160}
	if s := os.Getenv("NEARKIT_BENCH_EF"); s != "" {
		efs = efs[:0]
		for _, f := range strings.Split(s, ",") {
			ef, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			efs = append(efs, ef)
		}
	}
	paths := []string{"float32"}
	if x.qgQuantizer() != nil {
		paths = []string{"qgraph", "float32"}
	}
	for _, ef := range efs {
		for _, p := range paths {
			b.Run(fmt.Sprintf("ef=%d/path=%s", ef, p), func(b *testing.B) {
				hits, i := 0, 0
				var ndist int64
				var ids []uint64
				b.ReportAllocs()
				cpu0 := cpuTime()
				for b.Loop() {
					qi := i % nq
					items := fileSearch(x, queries[qi*dim:(qi+1)*dim], k, ef, p == "qgraph", &ndist)
					ids = ids[:0]
					for _, it := range items {
						ids = append(ids, x.dir.Load().chunks[it.ID>>x.shift].labels[it.ID&x.mask])
					}
					for _, g := range gt[qi*gk : qi*gk+k] {
						if slices.Contains(ids, uint64(g)) {
							hits++
						}
					}
					i++
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(i), "cpu-ns/op")
				b.ReportMetric(float64(hits)/float64(k*i), "recall")
				b.ReportMetric(float64(ndist)/float64(i), "distances/op")
			})
		}
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds: on a
// machine shared with other work it varies far less than the wall time
// (the search allocates nothing, so the garbage collector adds little).
func cpuTime() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// fileSearch is Search without its argument checks and result
// translation, through the QGraph walk or the float32 one.
func fileSearch(x *Index, q []float32, k, ef int, qg bool, ndist *int64) []heap.Item {
	sc := x.getScratch()
	defer x.scratch.Put(sc)
	if x.metric.Normalizes() {
		sc.q = append(sc.q[:0], q...)
		distance.Normalize(sc.q)
		q = sc.q
	}
	var items []heap.Item
	if qg {
		items = x.searchQG(sc, x.qgQuantizer(), q, ef, false)
	} else {
		items, _ = searchWith(x, sc, &floatScorer{x: x, q: q}, q, k, ef, nil)
	}
	*ndist += sc.ndist
	return items[:min(k, len(items))]
}
