package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
)

// BenchmarkRouterSearch compares the router (fan-out, hedge timers,
// merge) with asking the same in-process nodes directly, one after
// another, and merging by hand: the difference is the router's overhead.
// nodes=N is N nodes at R=1, so N shards of the data searched in parallel
// by the router.
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
		b.Run(fmt.Sprintf("nodes=%d/mode=direct", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := queries[(i%64)*testDim : (i%64+1)*testDim]
				i++
				lists := make([][]nearkit.Result, 0, nodes)
				for name, shards := range held {
					res, err := c.node(name).Search(ctx, &SearchRequest{Shards: shards, Query: q, K: k})
					if err != nil {
						b.Fatal(err)
					}
					lists = append(lists, res)
				}
				mergeTopK(lists, k)
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				q := queries[(i%64)*testDim : (i%64+1)*testDim]
				i++
				if _, err := c.r.Search(ctx, q, k, nearkit.SearchOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router-parallel", nodes), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					q := queries[(i%64)*testDim : (i%64+1)*testDim]
					i++
					if _, err := c.r.Search(ctx, q, k, nearkit.SearchOptions{}); err != nil {
						b.Fatal(err)
					}
				}
			})
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
