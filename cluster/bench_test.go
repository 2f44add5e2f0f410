package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster/internal/pair"
)

// BenchmarkRouterSearch compares the router (placement, fan-out, hedge
// timers, stats, merge) with asking the same in-process nodes directly,
// concurrently, and merging: the difference is the router's overhead.
// nodes=N is N nodes at R=1 holding the data in 64 logical shards.
// mode=paired runs the two in alternation and reports their medians and
// the median ratio router/direct, the figure to trust on a loaded
// machine; mode=router-parallel is the throughput with GOMAXPROCS
// goroutines querying at once, in queries/s. Package httpnode has the
// same over loopback HTTP.
func BenchmarkRouterSearch(b *testing.B) {
	const n, k = 20000, 10
	for _, nodes := range []int{1, 2, 4} {
		c := newTestCluster(b, nodes, RouterConfig{Cluster: Config{Shards: 64, Replicas: 1}})
		rng := rand.New(rand.NewPCG(1, 1))
		c.load(rng, 0, n)
		queries := randVecs(rng, 64)
		p := c.r.Placement()
		held := map[string][]int{}
		for sh := range p.Shards() {
			o := p.Owners(nil, sh)[0]
			held[o] = append(held[o], sh)
		}
		ctx := context.Background()
		names := p.Nodes()
		lists := make([][]nearkit.Result, len(names))
		direct := func(q []float32) []nearkit.Result {
			var wg sync.WaitGroup
			for j, name := range names {
				wg.Go(func() {
					res, err := c.node(name).Search(ctx, &SearchRequest{Shards: held[name], Query: q, K: k})
					if err != nil {
						b.Error(err)
					}
					lists[j] = res
				})
			}
			wg.Wait()
			return mergeTopK(lists, k)
		}
		routed := func(q []float32) {
			if _, err := c.r.Search(ctx, q, k, nearkit.SearchOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("nodes=%d/mode=direct", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				direct(queries[(i%64)*testDim : (i%64+1)*testDim])
				i++
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				routed(queries[(i%64)*testDim : (i%64+1)*testDim])
				i++
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=paired", nodes), func(b *testing.B) {
			i := 0
			pair.Bench(b, "direct", "router",
				func() { direct(queries[(i%64)*testDim : (i%64+1)*testDim]) },
				func() { routed(queries[(i%64)*testDim : (i%64+1)*testDim]); i++ })
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router-parallel", nodes), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					q := queries[(i%64)*testDim : (i%64+1)*testDim]
					i++
					if _, err := c.r.Search(ctx, q, k, nearkit.SearchOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

// BenchmarkRouterAdd measures quorum writes of 100-vector batches at R=2.
func BenchmarkRouterAdd(b *testing.B) {
	c := newTestCluster(b, 3, RouterConfig{Cluster: Config{Shards: 64, Replicas: 2}})
	rng := rand.New(rand.NewPCG(2, 2))
	vecs := randVecs(rng, 100)
	ids := make([]uint64, 100)
	next := uint64(0)
	ctx := context.Background()
	for b.Loop() {
		for i := range ids {
			ids[i] = next
			next++
		}
		if err := c.r.Add(ctx, ids, vecs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "vectors/s")
}
