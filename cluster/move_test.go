package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
)

// TestMoveUnderLoad adds and removes nodes while writers add and delete
// and readers search, then checks that every acknowledged vector is held
// exactly once by every owner of its shard and found by search, and that
// no search failed or returned an ID twice on the way.
func TestMoveUnderLoad(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 64, Replicas: 2}})
	ctx := context.Background()
	batches := 60
	if testing.Short() {
		batches = 20
	}
	var (
		mu        sync.Mutex
		vectors   = map[uint64][]float32{} // acknowledged and not deleted
		uncertain = map[uint64]bool{}      // writes not acknowledged
		stop      atomic.Bool
		wg        sync.WaitGroup // readers
		writers   sync.WaitGroup
		nextID    atomic.Uint64
	)
	fail := make(chan string, 16)
	// Writers: add batches of 50, delete every fifth acknowledged ID.
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for b := 0; b < batches; b++ {
				ids := make([]uint64, 50)
				for i := range ids {
					ids[i] = nextID.Add(1)
				}
				vecs := randVecs(rng, len(ids))
				failed := map[uint64]bool{}
				// Writes fail while a node is down and not yet
				// rebalanced away (quorum 2 of 2); those IDs are not
				// acknowledged.
				noteFailed := func(err error) bool {
					var we *WriteError
					if err != nil && !errors.As(err, &we) {
						fail <- err.Error()
						return false
					}
					if we != nil {
						for _, f := range we.Failed {
							failed[f.ID] = true
						}
					}
					return true
				}
				if !noteFailed(c.r.Add(ctx, ids, vecs)) {
					return
				}
				var del []uint64
				for i := 0; i < len(ids); i += 5 {
					del = append(del, ids[i])
				}
				if !noteFailed(c.r.Delete(ctx, del)) {
					return
				}
				mu.Lock()
				for i, id := range ids {
					if failed[id] {
						uncertain[id] = true
					} else if i%5 != 0 {
						vectors[id] = vecs[i*testDim : (i+1)*testDim]
					}
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	// Readers: no error, no ID twice.
	for rd := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(rd), 10))
			for !stop.Load() {
				q := randVecs(rng, 1)
				res, err := c.r.Search(ctx, q, 50, nearkit.SearchOptions{})
				if err != nil {
					c.r.mu.RLock()
					fail <- fmt.Sprintf("search: %v conns=%v stale=%v members=%v", err, len(c.r.conns), c.r.stale, c.members.Members())
					c.r.mu.RUnlock()
					return
				}
				seen := map[uint64]bool{}
				for _, r := range res {
					if seen[r.ID] {
						fail <- "search returned an ID twice"
						return
					}
					seen[r.ID] = true
				}
			}
		}()
	}
	steps := []func(){
		func() { c.addNode("n3") },
		func() { // graceful: move its shards away, then stop it
			if _, err := c.r.RebalanceTo(ctx, []string{"n1", "n2", "n3"}); err != nil {
				t.Errorf("rebalance without n0: %v", err)
			}
			c.removeMember("n0")
		},
		func() { c.addNode("n4") },
		func() { c.removeMember("n1") }, // dies
		func() { c.addNode("n0") },      // back, empty
	}
	for _, step := range steps {
		time.Sleep(20 * time.Millisecond)
		step()
		if _, err := c.r.Rebalance(ctx); err != nil {
			t.Fatalf("rebalance: %v", err)
		}
	}
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	close(fail)
	for f := range fail {
		t.Error(f)
	}
	if t.Failed() {
		return
	}
	// One more rebalance is a no-op.
	if rep, err := c.r.Rebalance(ctx); err != nil || len(rep.Copied)+len(rep.Repaired) != 0 {
		t.Fatalf("settled rebalance: %+v, %v", rep, err)
	}

	// Every owner of every shard holds exactly the acknowledged vectors.
	p := c.r.Placement()
	if p.Epoch != 6 {
		t.Errorf("epoch %d after five membership changes", p.Epoch)
	}
	want := map[int][]uint64{}
	for id := range vectors {
		sh := ShardOf(id, p.Shards())
		want[sh] = append(want[sh], id)
	}
	for sh := range p.Shards() {
		slices.Sort(want[sh])
		for _, o := range p.Owners(nil, sh) {
			var got []uint64
			err := c.node(o).Export(ctx, sh, func(ids []uint64, vecs []float32) error {
				for i, id := range ids {
					if uncertain[id] {
						continue
					}
					if !slices.Equal(vecs[i*testDim:(i+1)*testDim], vectors[id]) {
						t.Errorf("shard %d on %s: id %d has another vector", sh, o, id)
					}
				}
				for _, id := range ids {
					if !uncertain[id] {
						got = append(got, id)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("export shard %d from %s: %v", sh, o, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, want[sh]) {
				t.Fatalf("shard %d on %s: %d ids, want %d", sh, o, len(got), len(want[sh]))
			}
		}
	}
	// Nodes hold only the shards they own.
	for _, name := range p.Nodes() {
		held, _ := c.node(name).Held(ctx)
		for _, sh := range held {
			if !p.Owns(name, sh) {
				t.Errorf("%s still holds shard %d it does not own", name, sh)
			}
		}
	}
	// Search finds each acknowledged vector once, at distance 0.
	n := 0
	for id, v := range vectors {
		if n++; n > 300 {
			break
		}
		res, err := c.r.Search(ctx, v, 1, nearkit.SearchOptions{})
		if err != nil || len(res) != 1 || res[0].ID != id || res[0].Distance != 0 {
			t.Fatalf("search for id %d: %v %v", id, res, err)
		}
	}
	if len(vectors) < batches*2*20 {
		t.Fatalf("only %d vectors acknowledged", len(vectors))
	}
	t.Logf("%d vectors acknowledged, %d not, %d shard copies", len(vectors), len(uncertain), c.r.Stats().ShardMoves)
}
