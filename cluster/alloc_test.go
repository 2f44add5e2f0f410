package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
)

// answerNode answers every search with the same results and no
// allocation, so that AllocsPerRun counts the router's allocations alone.
type answerNode struct {
	Node
	res []nearkit.Result
}

func (a *answerNode) Search(ctx context.Context, req *SearchRequest) ([]nearkit.Result, error) {
	return a.res[:min(req.K, len(a.res))], nil
}

// routedAllocs is the allocations of one routed search over nodes nodes
// holding shards logical shards at replication r.
func routedAllocs(t *testing.T, nodes, shards, r int) float64 {
	c := newTestCluster(t, nodes, RouterConfig{Cluster: Config{Shards: shards, Replicas: r}})
	i := 0
	for _, f := range c.nodes {
		res := make([]nearkit.Result, 10)
		for j := range res {
			res[j] = nearkit.Result{ID: uint64(i*100 + j), Distance: float32(j)}
		}
		i++
		f.Node = &answerNode{Node: f.Node, res: res}
	}
	q := randVecs(rand.New(rand.NewPCG(9, 9)), 1)
	ctx := context.Background()
	search := func() {
		if _, err := c.r.Search(ctx, q, 10, nearkit.SearchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	search() // the nodes' stats entries are made on first use
	return testing.AllocsPerRun(200, search)
}

// TestSearchAllocs pins the router's allocations per search: a few for the
// search itself and a few per node asked (its request, the goroutine that
// sends it, and, when a hedge is possible, its timer and cancelable
// context), none that grow with the logical shards or with k.
func TestSearchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	for _, tc := range []struct{ nodes, r int }{{1, 1}, {4, 1}, {3, 2}} {
		// One node: the call, its channel and the goroutine that sends
		// it (the search's state, query copy and shard lists come from
		// the router's pool). Each further node: its call, channel and
		// goroutine, and the goroutine that asks it; with more than one
		// node, the fan-out's channel (2: a buffered channel of pointerful
		// values allocates its buffer apart), lists and merged result,
		// once. Hedging adds a timer (3) and a cancelable context (2) per
		// node.
		bound := 3 + 4*(tc.nodes-1)
		if tc.nodes > 1 {
			bound += 4
		}
		if tc.r > 1 {
			bound += 5 * tc.nodes
		}
		var prev float64
		for _, shards := range []int{64, 256} {
			t.Run(fmt.Sprintf("nodes=%d/r=%d/shards=%d", tc.nodes, tc.r, shards), func(t *testing.T) {
				got := routedAllocs(t, tc.nodes, shards, tc.r)
				t.Logf("%v allocs per search", got)
				if got > float64(bound) {
					t.Errorf("%v allocs per search, want ≤ %v", got, bound)
				}
				if prev != 0 && got != prev {
					t.Errorf("%v allocs per search at %d shards, %v at 64: they grow with the shards", got, shards, prev)
				}
				prev = got
			})
		}
	}
}
