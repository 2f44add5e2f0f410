package cluster

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit/cluster/internal/answer"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/flat"
)

func searchAll(t *testing.T, r *Router, ref *flat.Index, queries []float32, k int) {
	t.Helper()
	for i := 0; i < len(queries)/testDim; i++ {
		q := queries[i*testDim : (i+1)*testDim]
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := r.Search(ctx, q, k, nearkit.SearchOptions{})
		cancel()
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
		want, _ := ref.Search(nil, q, k, nearkit.SearchOptions{})
		if !answer.Same(got, want) {
			t.Fatalf("query %d:\n got %v\nwant %v", i, got, want)
		}
	}
}

func TestRouterExact(t *testing.T) {
	for _, tc := range []struct{ nodes, replicas int }{{1, 1}, {3, 1}, {4, 2}, {5, 3}} {
		c := newTestCluster(t, tc.nodes, RouterConfig{Cluster: Config{Shards: 64, Replicas: tc.replicas}})
		rng := rand.New(rand.NewPCG(1, uint64(tc.nodes)))
		_, _, ref := c.load(rng, 1000, 3000)
		searchAll(t, c.r, ref, randVecs(rng, 30), 10)
		searchAll(t, c.r, ref, randVecs(rng, 3), 5000) // k beyond Len
	}
}

func TestRouterWrites(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}})
	rng := rand.New(rand.NewPCG(2, 2))
	ids, vecs, ref := c.load(rng, 0, 500)
	ctx := context.Background()

	// Idempotent re-add.
	if err := c.r.Add(ctx, ids[:10], vecs[:10*testDim]); err != nil {
		t.Fatalf("re-add: %v", err)
	}
	// Re-add with another vector fails for exactly that ID.
	other := randVecs(rng, 2)
	err := c.r.Add(ctx, []uint64{ids[3], 99999}, other)
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, ErrQuorum) || !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Fatalf("conflicting add: %v", err)
	}
	if len(we.Failed) != 1 || we.Failed[0].ID != ids[3] || we.Failed[0].Acks != 0 {
		t.Fatalf("conflicting add: failed %+v", we.Failed)
	}
	ref.Add(99999, other[testDim:])

	// Delete, then search matches the reference.
	if err := c.r.Delete(ctx, ids[100:200]); err != nil {
		t.Fatal(err)
	}
	if err := c.r.Delete(ctx, []uint64{1 << 60}); err != nil {
		t.Fatalf("delete of absent id: %v", err)
	}
	for _, id := range ids[100:200] {
		ref.Delete(id)
	}
	searchAll(t, c.r, ref, randVecs(rng, 20), 20)

	// Bad input.
	nan := make([]float32, testDim)
	nan[3] = float32(math.NaN())
	for name, err := range map[string]error{
		"short batch": c.r.Add(ctx, []uint64{1, 2}, vecs[:testDim]),
		"nan":         c.r.Add(ctx, []uint64{1}, nan),
	} {
		if err == nil || errors.Is(err, ErrQuorum) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.r.Search(ctx, vecs[:testDim-1], 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short query: %v", err)
	}
	if _, err := c.r.Search(ctx, nan, 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("nan query: %v", err)
	}
	if _, err := c.r.Search(ctx, vecs[:testDim], 0, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
		t.Errorf("k=0: %v", err)
	}
}

func TestRouterWriteQuorum(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 16, Replicas: 2}, WriteQuorum: 1})
	rng := rand.New(rand.NewPCG(3, 3))
	ctx := context.Background()
	c.removeMember("n1")
	ids := make([]uint64, 200)
	for i := range ids {
		ids[i] = uint64(i)
	}
	vecs := randVecs(rng, len(ids))
	// Quorum 1 of 2: every write succeeds, those owned by n1 leave it
	// stale.
	if err := c.r.Add(ctx, ids, vecs); err != nil {
		t.Fatal(err)
	}
	if len(c.r.stale) == 0 {
		t.Fatal("no replica marked stale")
	}
	// With every owner of some shard down, those IDs fail by name.
	c.removeMember("n2")
	ids2 := []uint64{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007}
	vecs2 := randVecs(rng, len(ids2))
	err := c.r.Add(ctx, ids2, vecs2)
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, ErrNodeDown) {
		t.Fatalf("add with two of three down: %v", err)
	}
	p := c.r.Placement()
	for _, f := range we.Failed {
		if p.Owns("n0", ShardOf(f.ID, p.Shards())) {
			t.Errorf("id %d failed but n0 owns its shard", f.ID)
		}
	}
	// Rejoin and repair: n1 and n2 get fresh copies of what they missed,
	// then n0 can go and every vector is still there.
	c.setMembers(Member{Name: "n0"}, Member{Name: "n1"}, Member{Name: "n2"})
	rep, err := c.r.Rebalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Repaired) == 0 || len(rep.Copied) != 0 {
		t.Fatalf("rebalance: %+v", rep)
	}
	if len(c.r.stale) != 0 {
		t.Fatalf("stale after repair: %v", c.r.stale)
	}
	ref, _ := flat.New(flat.Config{Dim: testDim})
	ref.AddBatch(ctx, ids, vecs)
	for i, id := range ids2 {
		if !slices.ContainsFunc(we.Failed, func(f FailedWrite) bool { return f.ID == id }) {
			ref.Add(id, vecs2[i*testDim:(i+1)*testDim])
		}
	}
	c.removeMember("n0")
	searchAll(t, c.r, ref, randVecs(rng, 10), 10)
}

func TestRouterFaults(t *testing.T) {
	const slow = 150 * time.Millisecond
	for _, tc := range []struct {
		name  string
		mode  int32
		setup func(f *faulty)
	}{
		{"error", faultError, nil},
		{"hang", faultHang, nil},
		{"slow", faultSlow, func(f *faulty) { f.delay = slow }},
		{"down", -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 64, Replicas: 2}})
			rng := rand.New(rand.NewPCG(4, 4))
			_, _, ref := c.load(rng, 0, 2000)
			bad := c.node("n1")
			if tc.setup != nil {
				tc.setup(bad)
			}
			if tc.mode < 0 {
				c.removeMember("n1")
			} else {
				bad.mode.Store(tc.mode)
			}
			queries := randVecs(rng, 40)
			lat := make([]time.Duration, 0, 40)
			for i := range 40 {
				q := queries[i*testDim : (i+1)*testDim]
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				start := time.Now()
				got, err := c.r.Search(ctx, q, 10, nearkit.SearchOptions{})
				lat = append(lat, time.Since(start))
				cancel()
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
				if !answer.Same(got, want) {
					t.Fatalf("query %d: got %v want %v", i, got, want)
				}
			}
			slices.Sort(lat)
			p99 := lat[len(lat)*99/100]
			st := c.r.Stats().Nodes["n1"]
			t.Logf("p99 %v, n1 stats %+v", p99, st)
			switch tc.name {
			case "error":
				if st.Errors == 0 || st.Failovers == 0 {
					t.Errorf("no errors or failovers counted: %+v", st)
				}
			case "hang", "slow":
				if st.Hedges == 0 {
					t.Errorf("no hedges counted: %+v", st)
				}
				if p99 >= slow {
					t.Errorf("p99 %v not below the slow node's delay %v", p99, slow)
				}
			case "down":
				if bad.calls.Load() != 0 {
					t.Errorf("a node out of the membership was asked %d times", bad.calls.Load())
				}
			}
		})
	}
}

func TestRouterKilledMidQuery(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}, HedgeMin: -1})
	rng := rand.New(rand.NewPCG(5, 5))
	_, _, ref := c.load(rng, 0, 1000)
	victim := c.node("n2")
	victim.mode.Store(faultKill)
	q := randVecs(rng, 1)
	done := make(chan error, 1)
	var got []nearkit.Result
	go func() {
		var err error
		got, err = c.r.Search(context.Background(), q, 10, nearkit.SearchOptions{})
		done <- err
	}()
	for victim.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(victim.kill)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
	if !answer.Same(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if c.r.Stats().Nodes["n2"].Failovers == 0 {
		t.Error("no failover counted")
	}
}

func TestRouterRestartedNode(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}})
	rng := rand.New(rand.NewPCG(6, 6))
	ctx := context.Background()
	_, _, ref := c.load(rng, 0, 1500)
	// n1 restarts empty under the same name: searches fail over.
	c.node("n1").Node = newLocal(t)
	queries := randVecs(rng, 10)
	searchAll(t, c.r, ref, queries, 10)
	rep, err := c.r.Rebalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Repaired) != c.r.Placement().Load()["n1"] {
		t.Fatalf("repaired %d shards, n1 owns %d", len(rep.Repaired), c.r.Placement().Load()["n1"])
	}
	// Now n1 alone must cover what it shares with n0 and n2.
	c.removeMember("n0")
	searchAll(t, c.r, ref, queries, 10)
	c.setMembers(Member{Name: "n0"}, Member{Name: "n1"})
	c.removeMember("n2")
	searchAll(t, c.r, ref, queries, 10)
}

func TestRouterPartialPolicy(t *testing.T) {
	for _, allow := range []bool{false, true} {
		c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 1}, AllowPartial: allow})
		rng := rand.New(rand.NewPCG(7, 7))
		ids, vecs, _ := c.load(rng, 0, 1000)
		c.node("n1").mode.Store(faultError)
		q := vecs[:testDim]
		got, err := c.r.Search(context.Background(), q, 1000, nearkit.SearchOptions{})
		var pe *PartialError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPartial) {
			t.Fatalf("allow=%v: %v", allow, err)
		}
		p := c.r.Placement()
		var lost []int
		for sh := range p.Shards() {
			if p.Owns("n1", sh) {
				lost = append(lost, sh)
			}
		}
		if !slices.Equal(pe.Shards, lost) {
			t.Fatalf("allow=%v: partial shards %v, n1 owns %v", allow, pe.Shards, lost)
		}
		if !allow {
			if got != nil {
				t.Fatalf("results returned under the error policy")
			}
			continue
		}
		want := 0
		for _, id := range ids {
			if !p.Owns("n1", ShardOf(id, p.Shards())) {
				want++
			}
		}
		if len(got) != want {
			t.Fatalf("allow: %d results, want the %d of the answering shards", len(got), want)
		}
		// A hang past the deadline is partial too, and names the deadline.
		c.node("n1").mode.Store(faultHang)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err = c.r.Search(ctx, q, 10, nearkit.SearchOptions{})
		cancel()
		if !errors.Is(err, ErrPartial) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("hang: %v", err)
		}
		if st := c.r.Stats(); st.PartialResults != 2 || st.Nodes["n1"].Timeouts == 0 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestMergeTopK(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	for trial := range 200 {
		nl := 1 + rng.IntN(6)
		var lists [][]nearkit.Result
		var all []nearkit.Result
		for range nl {
			l := make([]nearkit.Result, rng.IntN(20))
			for i := range l {
				l[i] = nearkit.Result{ID: rng.Uint64N(50), Distance: float32(rng.IntN(10))}
			}
			nearkit.SortResults(l)
			lists = append(lists, l)
			all = append(all, l...)
		}
		k := 1 + rng.IntN(100)
		nearkit.SortResults(all)
		var want []nearkit.Result
		for _, r := range all {
			if len(want) < k && !slices.ContainsFunc(want, func(w nearkit.Result) bool { return w.ID == r.ID }) {
				want = append(want, r)
			}
		}
		got := mergeTopK(lists, k)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d k=%d:\n got %v\nwant %v", trial, k, got, want)
		}
	}
}

// TestRouterDefaultQuorum: at R=2 the default quorum is both owners, so
// with one node down the writes to its shards fail by name and the others
// succeed; the failed ones are on the surviving owner, as WriteError says.
func TestRouterDefaultQuorum(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}})
	if c.r.need != 2 {
		t.Fatalf("default quorum at R=2 is %d, want 2", c.r.need)
	}
	rng := rand.New(rand.NewPCG(13, 13))
	ctx := context.Background()
	c.removeMember("n1")
	ids := make([]uint64, 300)
	for i := range ids {
		ids[i] = uint64(i)
	}
	vecs := randVecs(rng, len(ids))
	err := c.r.Add(ctx, ids, vecs)
	var we *WriteError
	if !errors.As(err, &we) || !errors.Is(err, ErrQuorum) || !errors.Is(err, ErrNodeDown) {
		t.Fatalf("add with an owner down: %v", err)
	}
	p := c.r.Placement()
	failed := map[uint64]FailedWrite{}
	for _, f := range we.Failed {
		failed[f.ID] = f
	}
	for _, id := range ids {
		f, ok := failed[id]
		if owned := p.Owns("n1", ShardOf(id, p.Shards())); owned != ok {
			t.Fatalf("id %d: n1 owns its shard %v, failed %v", id, owned, ok)
		}
		if ok && (f.Acks != 1 || f.Need != 2) {
			t.Fatalf("id %d: %+v", id, f)
		}
	}
	if len(failed) == 0 || len(failed) == len(ids) {
		t.Fatalf("%d of %d failed", len(failed), len(ids))
	}
	if !c.r.Stats().Nodes["n1"].Suspect {
		t.Error("a node writes found down is not a suspect")
	}
	ref, _ := flat.New(flat.Config{Dim: testDim})
	ref.AddBatch(ctx, ids, vecs)
	searchAll(t, c.r, ref, randVecs(rng, 10), 10)
}

// TestRouterSuspect: a node whose search failed is asked only after its
// shards' other replicas until SuspectFor has passed, but is still asked
// for shards no other replica can serve, and its answer clears it.
func TestRouterSuspect(t *testing.T) {
	const hold = 400 * time.Millisecond
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}, HedgeMin: -1, SuspectFor: hold})
	rng := rand.New(rand.NewPCG(14, 14))
	_, _, ref := c.load(rng, 0, 1000)
	bad := c.node("n1")
	bad.mode.Store(faultError)
	searchAll(t, c.r, ref, randVecs(rng, 1), 10)
	if st := c.r.Stats().Nodes["n1"]; !st.Suspect || st.Errors != 1 {
		t.Fatalf("after a failed search n1 is %+v", st)
	}
	// Every shard of n1 has another live replica: n1 is not asked.
	bad.mode.Store(faultNone)
	bad.calls.Store(0)
	start := time.Now()
	searchAll(t, c.r, ref, randVecs(rng, 20), 10)
	if n := bad.calls.Load(); n != 0 && time.Since(start) < hold {
		t.Fatalf("a suspect with healthy peers was asked %d times", n)
	}
	// The other owner of some of n1's shards goes: n1 is asked for them,
	// and answering clears the suspicion.
	c.removeMember("n2")
	searchAll(t, c.r, ref, randVecs(rng, 5), 10)
	if bad.calls.Load() == 0 {
		t.Fatal("a suspect that is the only replica left was not asked")
	}
	if st := c.r.Stats().Nodes["n1"]; st.Suspect {
		t.Fatalf("n1 still suspect after answering: %+v", st)
	}
	// The suspicion also ends by itself.
	c.setMembers(Member{Name: "n0"}, Member{Name: "n1"}, Member{Name: "n2"})
	c.r.statsFor("n1").failed(hold)
	time.Sleep(hold + 50*time.Millisecond)
	bad.calls.Store(0)
	searchAll(t, c.r, ref, randVecs(rng, 10), 10)
	if bad.calls.Load() == 0 {
		t.Fatal("n1 not asked again after SuspectFor")
	}
}

// TestRouterAnyOneDown: with R=2, every query keeps full results whichever
// one node is gone from the membership or failing every search.
func TestRouterAnyOneDown(t *testing.T) {
	c := newTestCluster(t, 4, RouterConfig{Cluster: Config{Shards: 64, Replicas: 2}})
	rng := rand.New(rand.NewPCG(15, 15))
	_, _, ref := c.load(rng, 0, 2000)
	all := c.members.Members()
	queries := randVecs(rng, 10)
	for _, m := range all {
		c.removeMember(m.Name)
		searchAll(t, c.r, ref, queries, 10)
		c.setMembers(all...)
		c.node(m.Name).mode.Store(faultError)
		searchAll(t, c.r, ref, queries, 10)
		c.node(m.Name).mode.Store(faultNone)
	}
}

// TestRouterHedgeLosers: requests that lose to a hedge and go on reading
// their query and shard list after Search returned (a node deaf to the
// cancel) never see another search's: the pooled search state is reused
// only once they end. Run under -race.
func TestRouterHedgeLosers(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}})
	rng := rand.New(rand.NewPCG(16, 16))
	_, _, ref := c.load(rng, 0, 1000)
	deaf := c.node("n1")
	deaf.delay = 20 * time.Millisecond
	deaf.mode.Store(faultDeaf)
	const workers, each = 4, 15
	queries := randVecs(rng, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			q := make([]float32, testDim)
			for i := range each {
				// The caller reuses its query buffer at once.
				copy(q, queries[(w*each+i)*testDim:])
				got, err := c.r.Search(context.Background(), q, 10, nearkit.SearchOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
				if !answer.Same(got, want) {
					t.Errorf("worker %d query %d: got %v want %v", w, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.r.Stats().Nodes["n1"].Hedges == 0 {
		t.Error("no hedge away from the deaf node")
	}
}
