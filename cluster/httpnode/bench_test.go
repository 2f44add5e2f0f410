package httpnode

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
	"github.com/nearkit/nearkit/cluster/internal/pair"
)

// BenchmarkRouterSearchHTTP is BenchmarkRouterSearch of package cluster
// over loopback HTTP/2 (h2c): nodes=N is N node servers at R=1 holding
// the data in 64 logical shards. mode=direct asks each node's Client for
// the shards it holds, concurrently, and merges by hand: a scatter-gather
// without the router. mode=router is Router.Search (placement, hedge
// timers, stats, k-way merge); the difference is the router's overhead.
// mode=paired runs the two in alternation and reports their medians and
// the median ratio router/direct, the figure to trust on a loaded machine.
// mode=router-parallel is the throughput under b.RunParallel
// (GOMAXPROCS goroutines querying at once), in queries/s.
func BenchmarkRouterSearchHTTP(b *testing.B) {
	const n, k = 20000, 10
	for _, nodes := range []int{1, 2, 4} {
		c := newHTTPCluster(b, nodes, cluster.RouterConfig{Cluster: cluster.Config{Shards: 64, Replicas: 1}}, flatFactory)
		rng := rand.New(rand.NewPCG(1, 1))
		ids := make([]uint64, n)
		for i := range ids {
			ids[i] = uint64(i)
		}
		load(b, c.r, ids, randVecs(rng, n))
		queries := randVecs(rng, 64)
		p := c.r.Placement()
		hc := &http.Client{Transport: NewTransport(nil)}
		var clients []*Client
		var held [][]int
		for _, name := range p.Nodes() {
			cl, err := NewClient(c.servers[name].URL, dim, hc)
			if err != nil {
				b.Fatal(err)
			}
			var shards []int
			for sh := range p.Shards() {
				if p.Owns(name, sh) {
					shards = append(shards, sh)
				}
			}
			clients = append(clients, cl)
			held = append(held, shards)
		}
		ctx := context.Background()
		lists := make([][]nearkit.Result, nodes)
		direct := func(q []float32) []nearkit.Result {
			var wg sync.WaitGroup
			for j, cl := range clients {
				wg.Go(func() {
					res, err := cl.Search(ctx, &cluster.SearchRequest{Shards: held[j], Query: q, K: k})
					if err != nil {
						b.Error(err)
					}
					lists[j] = res
				})
			}
			wg.Wait()
			var all []nearkit.Result
			for _, l := range lists {
				all = append(all, l...)
			}
			nearkit.SortResults(all)
			return all[:min(k, len(all))]
		}
		routed := func(q []float32) {
			if _, err := c.r.Search(ctx, q, k, nearkit.SearchOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("nodes=%d/mode=direct", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				direct(queries[(i%64)*dim : (i%64+1)*dim])
				i++
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router", nodes), func(b *testing.B) {
			i := 0
			for b.Loop() {
				routed(queries[(i%64)*dim : (i%64+1)*dim])
				i++
			}
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=paired", nodes), func(b *testing.B) {
			i := 0
			pair.Bench(b, "direct", "router",
				func() { direct(queries[(i%64)*dim : (i%64+1)*dim]) },
				func() { routed(queries[(i%64)*dim : (i%64+1)*dim]); i++ })
		})
		b.Run(fmt.Sprintf("nodes=%d/mode=router-parallel", nodes), func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					q := queries[(i%64)*dim : (i%64+1)*dim]
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
