package hnsw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

// liveSet is what the index should hold: ID → vector.
type liveSet struct {
	dim  int
	vecs map[uint64][]float32
}

func (ls *liveSet) ids() []uint64 {
	ids := make([]uint64, 0, len(ls.vecs))
	for id := range ls.vecs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// truth returns the exact top-k IDs of q over the live set.
func (ls *liveSet) truth(m distance.Metric, q []float32, k int) []uint64 {
	kern := m.Kernels()
	type pair struct {
		d  float32
		id uint64
	}
	norm := func(v []float32) []float32 {
		if m.Normalizes() {
			v = slices.Clone(v)
			distance.Normalize(v)
		}
		return v
	}
	q = norm(q)
	all := make([]pair, 0, len(ls.vecs))
	for id, v := range ls.vecs {
		all = append(all, pair{kern.Distance(q, norm(v)), id})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].d != all[j].d {
			return all[i].d < all[j].d
		}
		return all[i].id < all[j].id
	})
	out := make([]uint64, 0, k)
	for _, p := range all[:min(k, len(all))] {
		out = append(out, p.id)
	}
	return out
}

// lastStats accumulates recallLive's distance counts (tests using it run
// sequentially).
var lastStats nearkit.SearchStats

// recallLive is recall@k of x against the live set; it also fails the test
// when a result is not live or an ID repeats.
func recallLive(t testing.TB, x *Index, ls *liveSet, queries []float32, k, ef int) float64 {
	t.Helper()
	hits, total := 0, 0
	var res []nearkit.Result
	for i := range len(queries) / ls.dim {
		q := queries[i*ls.dim : (i+1)*ls.dim]
		var err error
		res, err = x.SearchWithStats(res[:0], q, k, nearkit.SearchOptions{Ef: ef}, &lastStats)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != min(k, len(ls.vecs)) {
			t.Fatalf("query %d: %d results, want %d", i, len(res), min(k, len(ls.vecs)))
		}
		seen := map[uint64]bool{}
		for _, r := range res {
			if _, ok := ls.vecs[r.ID]; !ok {
				t.Fatalf("query %d: result %d is not in the index", i, r.ID)
			}
			if seen[r.ID] {
				t.Fatalf("query %d: id %d returned twice", i, r.ID)
			}
			seen[r.ID] = true
		}
		want := ls.truth(x.Metric(), q, k)
		for _, r := range res {
			if slices.Contains(want, r.ID) {
				hits++
			}
		}
		total += len(want)
	}
	return float64(hits) / float64(total)
}

// TestChurn is the churn test: build n, then 10 rounds of deleting
// 10 % and inserting as many new vectors; recall@10 at a fixed ef must stay
// within 0.01 of a fresh build of the final set, memory within 1.15×.
func TestChurn(t *testing.T) {
	// The reference size is 50,000 (NEARKIT_CHURN_N=50000, about 65 s on
	// one core); 20,000 keeps the package's test time reasonable and shows
	// the same.
	n, nq := 20000, 500
	switch {
	case raceEnabled:
		n, nq = 600, 30
	case testing.Short():
		n, nq = 3000, 100
	}
	if v, err := strconv.Atoi(os.Getenv("NEARKIT_CHURN_N")); err == nil && v > 0 {
		// For the figures at other sizes.
		n = v
	}
	const dim, rounds, ef = 32, 10, 24
	rng := rand.New(rand.NewPCG(31, 32))
	pool := clustered(rng, n+n/10*rounds+nq, dim)
	queries := pool[len(pool)-nq*dim:]
	next := 0
	take := func() (uint64, []float32) {
		v := pool[next*dim : (next+1)*dim]
		next++
		return uint64(next) * 7, v
	}
	cfg := Config{Dim: dim, Seed: 5}
	x, _ := New(cfg)
	ls := &liveSet{dim: dim, vecs: map[uint64][]float32{}}
	add := func(batch bool, cnt int) {
		ids := make([]uint64, cnt)
		vecs := make([]float32, 0, cnt*dim)
		for i := range ids {
			id, v := take()
			ids[i] = id
			vecs = append(vecs, v...)
			ls.vecs[id] = v
		}
		if batch {
			if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
				t.Fatal(err)
			}
			return
		}
		for i, id := range ids {
			if err := x.Add(id, vecs[i*dim:(i+1)*dim]); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(true, n)
	r0 := recallLive(t, x, ls, queries, 10, ef)
	slots0 := x.nslots.Load()
	for round := range rounds {
		ids := ls.ids()
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for _, id := range ids[:n/10] {
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			delete(ls.vecs, id)
		}
		// Odd rounds insert one by one, even ones in a batch: both take
		// free slots.
		add(round%2 == 0, n/10)
		if x.Len() != n {
			t.Fatalf("round %d: Len = %d, want %d", round, x.Len(), n)
		}
	}
	lastStats = nearkit.SearchStats{}
	churned := recallLive(t, x, ls, queries, 10, ef)
	distC := float64(lastStats.Distances) / float64(nq)

	fresh, _ := New(cfg)
	ids := ls.ids()
	vecs := make([]float32, 0, len(ids)*dim)
	for _, id := range ids {
		vecs = append(vecs, ls.vecs[id]...)
	}
	if err := fresh.AddBatch(context.Background(), ids, vecs); err != nil {
		t.Fatal(err)
	}
	lastStats = nearkit.SearchStats{}
	rf := recallLive(t, fresh, ls, queries, 10, ef)
	distF := float64(lastStats.Distances) / float64(nq)
	memC, memF := x.MemoryUsage(), fresh.MemoryUsage()
	a0, f0, u0 := degreeStats(x)
	a1, f1, u1 := degreeStats(fresh)
	t.Logf("mean degree level 0 / full lists / upper levels: churned %.2f / %.3f / %.2f, fresh %.2f / %.3f / %.2f", a0, f0, u0, a1, f1, u1)
	t.Logf("distances per query: churned %.0f, fresh %.0f", distC, distF)
	t.Logf("n=%d dim=%d ef=%d: recall@10 initial %.4f, after %d rounds of 10%% churn %.4f, fresh build %.4f; "+
		"memory churned %d, fresh %d (%.3f×); slots %d → %d, tombstones %d",
		n, dim, ef, r0, rounds, churned, rf, memC, memF, float64(memC)/float64(memF), slots0, x.nslots.Load(), x.ndeleted.Load())
	if churned < rf-0.01 {
		t.Errorf("recall after churn %.4f, fresh build %.4f: more than 0.01 lower", churned, rf)
	}
	if float64(memC) > 1.15*float64(memF) {
		t.Errorf("memory after churn %d > 1.15 × fresh %d", memC, memF)
	}
}

func TestVacuumReusesSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	n, dim := scaled(2000), 16
	data := clustered(rng, 2*n, dim)
	x := build(t, Config{Dim: dim, M: 8, Seed: 1}, data[:n*dim])
	ls := &liveSet{dim: dim, vecs: map[uint64][]float32{}}
	for i := range n {
		ls.vecs[uint64(i)*3+1] = data[i*dim : (i+1)*dim]
	}
	if got, err := x.Vacuum(context.Background()); got != 0 || err != nil {
		t.Fatalf("Vacuum with nothing deleted: %d, %v", got, err)
	}
	del := 0
	for i := 0; i < n; i += 3 {
		x.Delete(uint64(i)*3 + 1)
		delete(ls.vecs, uint64(i)*3+1)
		del++
	}
	got, err := x.Vacuum(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Only a deleted entry point stays.
	if got != del && got != del-1 {
		t.Fatalf("Vacuum reclaimed %d slots, %d deleted", got, del)
	}
	if x.ndeleted.Load() != int64(del-got) || len(x.life.free) != got {
		t.Fatalf("after Vacuum: %d tombstones, %d free", x.ndeleted.Load(), len(x.life.free))
	}
	// No list points to a free slot, and the graph still finds everything.
	d := x.dir.Load()
	for s := range x.nslots.Load() {
		m := x.levelOf(d, s)
		for l := 0; l <= m; l++ {
			list := x.list(d, s, l)
			for _, id := range list[1 : 1+list[0]] {
				if d.chunks[id>>x.shift].meta[id&x.mask]&flagFree != 0 {
					t.Fatalf("slot %d level %d links to free slot %d", s, l, id)
				}
			}
		}
	}
	if r := recallLive(t, x, ls, data[n*dim:(n+100)*dim], 10, 64); r < 0.95 {
		t.Errorf("recall after Vacuum %.4f", r)
	}
	slots := x.nslots.Load()
	for i := n; i < n+got; i++ {
		if err := x.Add(uint64(i)*3+1, data[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
		ls.vecs[uint64(i)*3+1] = data[i*dim : (i+1)*dim]
	}
	if x.nslots.Load() != slots {
		t.Fatalf("re-adding %d vectors grew the index from %d to %d slots", got, slots, x.nslots.Load())
	}
	for i := n; i < n+got; i += 17 {
		res, _ := x.Search(nil, data[i*dim:(i+1)*dim], 1, nearkit.SearchOptions{Ef: 64})
		if len(res) != 1 || res[0].ID != uint64(i)*3+1 || res[0].Distance != 0 {
			t.Fatalf("re-added vector %d: %v", i, res)
		}
	}
	if r := recallLive(t, x, ls, data[(n+got)*dim:(n+got+100)*dim], 10, 64); r < 0.95 {
		t.Errorf("recall after reuse %.4f", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	x.Delete(uint64(n)*3 + 1)
	if _, err := x.Vacuum(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Vacuum: %v", err)
	}
	if x.ndeleted.Load() == 0 {
		t.Fatal("cancelled Vacuum reclaimed the tombstone")
	}
}

func TestUpdate(t *testing.T) {
	rng := rand.New(rand.NewPCG(35, 36))
	n, dim := scaled(2000), 16
	data := clustered(rng, n+200, dim)
	for _, m := range []distance.Metric{distance.L2, distance.Cosine} {
		x := build(t, Config{Dim: dim, Metric: m, M: 8}, data[:n*dim])
		ls := &liveSet{dim: dim, vecs: map[uint64][]float32{}}
		for i := range n {
			ls.vecs[uint64(i)*3+1] = data[i*dim : (i+1)*dim]
		}
		// Give 200 IDs the vectors of other points.
		for j := range 200 {
			id := uint64(j*7%n)*3 + 1
			v := data[(n+j)*dim : (n+j+1)*dim]
			if err := x.Update(id, v); err != nil {
				t.Fatal(err)
			}
			ls.vecs[id] = v
		}
		if x.Len() != n {
			t.Fatalf("Len = %d after updates", x.Len())
		}
		for j := range 200 {
			v := data[(n+j)*dim : (n+j+1)*dim]
			res, _ := x.Search(nil, v, 1, nearkit.SearchOptions{Ef: 64})
			if len(res) != 1 || res[0].ID != uint64(j*7%n)*3+1 || res[0].Distance > 1e-6 {
				t.Fatalf("%s: updated vector %d not found: %v", m, j, res)
			}
		}
		if m == distance.L2 {
			// The old vectors are gone: no result of an old position may
			// be an updated ID at distance 0.
			for j := range 200 {
				old := data[j*7%n*dim : (j*7%n+1)*dim]
				res, _ := x.Search(nil, old, 1, nearkit.SearchOptions{Ef: 64})
				if len(res) == 1 && res[0].ID == uint64(j*7%n)*3+1 && res[0].Distance == 0 {
					t.Fatalf("old vector of %d still found", res[0].ID)
				}
			}
		}
		if r := recallLive(t, x, ls, data[n*dim:], 10, 64); r < 0.95 {
			t.Errorf("%s: recall after updates %.4f", m, r)
		}
		// Same vector again: no change.
		if _, err := x.Vacuum(context.Background()); err != nil {
			t.Fatal(err)
		}
		slots, dead := x.nslots.Load(), x.ndeleted.Load()
		x.Update(1, ls.vecs[1])
		if m != distance.Cosine && (x.nslots.Load() != slots || x.ndeleted.Load() != dead) {
			t.Errorf("%s: updating with the same vector changed the index: slots %d→%d, tombstones %d→%d", m, slots, x.nslots.Load(), dead, x.ndeleted.Load())
		}
		if err := x.Update(2, data[:dim]); !errors.Is(err, nearkit.ErrUnknownID) {
			t.Errorf("Update of unknown id: %v", err)
		}
		if err := x.Update(1, data[:dim-1]); !errors.Is(err, nearkit.ErrDimension) {
			t.Errorf("Update with short vector: %v", err)
		}
		if err := x.Upsert(2, data[:dim]); err != nil || x.Len() != n+1 {
			t.Errorf("Upsert of a new id: %v, Len %d", err, x.Len())
		}
		if err := x.Upsert(2, data[dim:2*dim]); err != nil || x.Len() != n+1 {
			t.Errorf("Upsert of a held id: %v, Len %d", err, x.Len())
		}
	}
}

func TestClose(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	n, dim := scaled(1000), 8
	data := clustered(rng, n, dim)
	x := build(t, Config{Dim: dim, M: 8}, data)
	var wg sync.WaitGroup
	var ok, closed atomic.Int64
	for w := range 2 {
		wg.Go(func() {
			var res []nearkit.Result
			for i := 0; ; i++ {
				var err error
				res, err = x.Search(res[:0], data[((i*5+w)%n)*dim:][:dim], 5, nearkit.SearchOptions{})
				if errors.Is(err, ErrClosed) {
					closed.Add(1)
					return
				}
				if err != nil || len(res) != 5 {
					t.Errorf("search before Close: %v, %d results", err, len(res))
					return
				}
				ok.Add(1)
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ok.Load() < 50 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // let the searchers run
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if closed.Load() != 2 {
		t.Fatalf("%d searchers saw ErrClosed", closed.Load())
	}
	if err := x.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, err := range []error{
		x.Add(1e9, data[:dim]), x.Delete(1), x.Update(1, data[:dim]),
		x.AddBatch(context.Background(), []uint64{1e9}, data[:dim]),
		func() error { _, err := x.Vacuum(context.Background()); return err }(),
		func() error { _, err := x.WriteTo(&nullWriter{}); return err }(),
		func() error {
			_, err := x.SearchBatch(context.Background(), data[:dim], 1, nearkit.SearchOptions{})
			return err
		}(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("after Close: %v, want ErrClosed", err)
		}
	}
	if x.Len() != 0 {
		t.Errorf("Len after Close = %d", x.Len())
	}
}

type nullWriter struct{}

func (*nullWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestConcurrentLifecycle runs Add, AddBatch, Delete, Update, Vacuum and
// Search together (run with -race): no search may return an ID twice or an
// ID that was never added, and afterwards the index holds exactly the IDs
// it should, each found at its vector.
func TestConcurrentLifecycle(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 600
	}
	if raceEnabled {
		n = 300
	}
	const dim = 12
	data := clustered(rand.New(rand.NewPCG(39, 40)), 3*n, dim)
	vec := func(i int) []float32 { return data[i*dim : (i+1)*dim] }
	x, _ := New(Config{Dim: dim, M: 8, EfConstruction: 64, Seed: 2})
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.AddBatch(context.Background(), ids, data[:n*dim]); err != nil {
		t.Fatal(err)
	}
	// Each writer owns the IDs ≡ w (mod 3), so the final state is known.
	var mu sync.Mutex
	final := map[uint64]int{} // id → index of its vector in data
	for i := range n {
		final[uint64(i)] = i
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 16)
	for w := range 3 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 41))
			own := map[uint64]int{}
			for i := w; i < n; i += 3 {
				own[uint64(i)] = i
			}
			nextID := uint64(n + w)
			for step := range n / 2 {
				var err error
				switch op := rng.IntN(4); {
				case op == 0: // delete one of ours
					for id := range own {
						err = x.Delete(id)
						delete(own, id)
						break
					}
				case op == 1: // add a new one
					v := n + rng.IntN(2*n)
					err = x.Add(nextID, vec(v))
					own[nextID] = v
					nextID += 3
				case op == 2: // update one of ours
					for id := range own {
						v := n + rng.IntN(2*n)
						err = x.Update(id, vec(v))
						own[id] = v
						break
					}
				default: // a small batch
					bids := []uint64{nextID, nextID + 3}
					v := n + rng.IntN(2*n-1)
					err = x.AddBatch(context.Background(), bids, data[v*dim:(v+2)*dim])
					own[nextID], own[nextID+3] = v, v+1
					nextID += 6
				}
				if err != nil {
					errs <- err
					return
				}
				if step%200 == 0 {
					if _, err := x.Vacuum(context.Background()); err != nil {
						errs <- err
						return
					}
				}
			}
			mu.Lock()
			for i := w; i < n; i += 3 {
				delete(final, uint64(i))
			}
			for id, v := range own {
				final[id] = v
			}
			mu.Unlock()
		})
	}
	var searchers sync.WaitGroup
	for w := range 2 {
		searchers.Go(func() {
			var res []nearkit.Result
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if i%16 == 0 {
					// Leave the writers some CPU on a small machine.
					time.Sleep(50 * time.Microsecond)
				}
				var err error
				res, err = x.Search(res[:0], vec((i*13+w)%(3*n)), 10, nearkit.SearchOptions{Ef: 30})
				if err != nil {
					errs <- err
					return
				}
				seen := map[uint64]bool{}
				for _, r := range res {
					if seen[r.ID] {
						errs <- errors.New("an ID returned twice")
						return
					}
					seen[r.ID] = true
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	searchers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if x.Len() != len(final) {
		t.Fatalf("Len = %d, want %d", x.Len(), len(final))
	}
	missed := 0
	for id, v := range final {
		// k=10: several IDs may hold the same vector and tie at 0.
		res, _ := x.Search(nil, vec(v), 10, nearkit.SearchOptions{Ef: 64})
		found := false
		for _, r := range res {
			if _, ok := final[r.ID]; !ok {
				t.Fatalf("deleted id %d returned", r.ID)
			}
			found = found || (r.ID == id && r.Distance == 0)
		}
		if !found {
			missed++
		}
	}
	t.Logf("%d live vectors, %d not found at their position", len(final), missed)
	if missed > len(final)/200 {
		t.Errorf("%d of %d vectors not found at their position", missed, len(final))
	}
}

// degreeStats returns the mean level-0 degree, the fraction of full level-0
// lists and the mean upper-level degree of the live and tombstoned nodes.
func degreeStats(x *Index) (avg0 float64, full0 float64, avgU float64) {
	d := x.dir.Load()
	n := x.nslots.Load()
	var sum, full, cnt, sumU, cntU int
	for s := range n {
		m := d.chunks[s>>x.shift].meta[s&x.mask]
		if m&flagFree != 0 {
			continue
		}
		l := x.list(d, s, 0)
		sum += int(l[0])
		if int(l[0]) == x.m0 {
			full++
		}
		cnt++
		for lv := 1; lv <= int(m&levelMask); lv++ {
			sumU += int(x.list(d, s, lv)[0])
			cntU++
		}
	}
	return float64(sum) / float64(cnt), float64(full) / float64(cnt), float64(sumU) / float64(max(cntU, 1))
}

// TestFashionLifecycle measures the index's lifecycle on Fashion-MNIST
// (60,000 × 784, L2): Open versus Load of a saved index (time, heap,
// identical results, single-thread QPS), and the churn test on real data
// (build 50,000, 10 rounds of deleting 10 % and inserting as many; the
// vectors of deleted items come back later under new IDs). It takes a few
// minutes and runs only with NEARKIT_FASHION_LIFECYCLE=1 and the Debian
// package dataset-fashion-mnist; -short (as in CI) builds 10,000 instead:
//
//	NEARKIT_FASHION_LIFECYCLE=1 go test -run FashionLifecycle -v -timeout 30m ./hnsw
func TestFashionLifecycle(t *testing.T) {
	if os.Getenv("NEARKIT_FASHION_LIFECYCLE") == "" {
		t.Skip("set NEARKIT_FASHION_LIFECYCLE=1 to run")
	}
	ds, err := dataset.Load("fashion-mnist", dataset.Options{Metric: distance.L2, Queries: 1000})
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	dim, nq := ds.Dim, ds.NQ()
	ctx := context.Background()
	heapNow := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	qps := func(x *Index, ef int) float64 {
		start := time.Now()
		var res []nearkit.Result
		for i := range nq {
			res, _ = x.Search(res[:0], ds.Queries[i*dim:(i+1)*dim], 10, nearkit.SearchOptions{Ef: ef})
		}
		return float64(nq) / time.Since(start).Seconds()
	}

	// Build 50,000 (10,000 with -short, as in CI), kept for the churn part.
	n, rounds := 50000, 10
	if testing.Short() {
		n = 10000
	}
	x, _ := New(Config{Dim: dim, Seed: 1, Capacity: n})
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	start := time.Now()
	if err := x.AddBatch(ctx, ids, ds.Base[:n*dim]); err != nil {
		t.Fatal(err)
	}
	t.Logf("build %d: %v", n, time.Since(start))

	// Open versus Load.
	path := filepath.Join(t.TempDir(), "fm.hnsw")
	start = time.Now()
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	t.Logf("Save: %v, %d bytes", time.Since(start), st.Size())
	h0 := heapNow()
	start = time.Now()
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tLoad := time.Since(start)
	hLoad := heapNow() - h0
	h0 = heapNow()
	start = time.Now()
	mapped, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tOpen := time.Since(start)
	hOpen := heapNow() - h0
	start = time.Now()
	verified, err := Open(path, OpenOptions{VerifyChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	tVerify := time.Since(start)
	verified.Close()
	for i := range nq {
		q := ds.Queries[i*dim : (i+1)*dim]
		a, _ := loaded.Search(nil, q, 10, nearkit.SearchOptions{Ef: 20})
		b, _ := mapped.Search(nil, q, 10, nearkit.SearchOptions{Ef: 20})
		c, _ := x.Search(nil, q, 10, nearkit.SearchOptions{Ef: 20})
		if !slices.Equal(a, b) || !slices.Equal(a, c) {
			t.Fatalf("query %d: loaded, mapped and original differ", i)
		}
	}
	for rep := range 3 {
		t.Logf("QPS at ef=20 (run %d): in memory %.0f, loaded %.0f, mapped %.0f", rep, qps(x, 20), qps(loaded, 20), qps(mapped, 20))
	}
	t.Logf("Load: %v, heap +%.1f MB; Open: %v, heap +%.1f MB; Open with checksum: %v",
		tLoad, float64(hLoad)/1e6, tOpen, float64(hOpen)/1e6, tVerify)
	mapped.Close()
	loaded = nil

	// Churn.
	rng := rand.New(rand.NewPCG(61, 62))
	live := map[uint64]int{} // id → row of ds.Base
	for i := range n {
		live[uint64(i)] = i
	}
	var spare []int // rows not in the index, oldest first
	for i := n; i < ds.N(); i++ {
		spare = append(spare, i)
	}
	nextID := uint64(1 << 32)
	var tDel, tVac, tIns time.Duration
	for range rounds {
		keys := make([]uint64, 0, len(live))
		for id := range live {
			keys = append(keys, id)
		}
		slices.Sort(keys)
		rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		start = time.Now()
		for _, id := range keys[:n/10] {
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			spare = append(spare, live[id])
			delete(live, id)
		}
		tDel += time.Since(start)
		start = time.Now()
		if _, err := x.Vacuum(ctx); err != nil {
			t.Fatal(err)
		}
		tVac += time.Since(start)
		bids := make([]uint64, n/10)
		bvecs := make([]float32, 0, n/10*dim)
		for i := range bids {
			row := spare[0]
			spare = spare[1:]
			bids[i] = nextID
			live[nextID] = row
			nextID++
			bvecs = append(bvecs, ds.Base[row*dim:(row+1)*dim]...)
		}
		start = time.Now()
		if err := x.AddBatch(ctx, bids, bvecs); err != nil {
			t.Fatal(err)
		}
		tIns += time.Since(start)
	}
	t.Logf("churn %d rounds: deletes %v, Vacuum %v, inserts %v (AddBatch, %d threads)", rounds, tDel, tVac, tIns, runtime.GOMAXPROCS(0))

	// Fresh build of the final set, and exact ground truth over it.
	keys := make([]uint64, 0, len(live))
	for id := range live {
		keys = append(keys, id)
	}
	slices.Sort(keys)
	vecs := make([]float32, 0, len(keys)*dim)
	for _, id := range keys {
		vecs = append(vecs, ds.Base[live[id]*dim:(live[id]+1)*dim]...)
	}
	fresh, _ := New(Config{Dim: dim, Seed: 1, Capacity: n})
	start = time.Now()
	if err := fresh.AddBatch(ctx, keys, vecs); err != nil {
		t.Fatal(err)
	}
	t.Logf("fresh build of the final set: %v", time.Since(start))
	fl, _ := flat.New(flat.Config{Dim: dim})
	if err := fl.AddBatch(ctx, keys, vecs); err != nil {
		t.Fatal(err)
	}
	gt, err := fl.SearchBatch(ctx, ds.Queries, 10, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recall := func(x *Index, ef int) (float64, float64) {
		var st nearkit.SearchStats
		hits := 0
		for i := range nq {
			res, _ := x.SearchWithStats(nil, ds.Queries[i*dim:(i+1)*dim], 10, nearkit.SearchOptions{Ef: ef}, &st)
			for _, r := range res {
				for _, g := range gt[i] {
					if g.ID == r.ID {
						hits++
						break
					}
				}
			}
		}
		return float64(hits) / float64(10*nq), float64(st.Distances) / float64(nq)
	}
	for _, ef := range []int{10, 20, 40, 80} {
		rc, dc := recall(x, ef)
		rf, df := recall(fresh, ef)
		t.Logf("ef=%d: recall@10 churned %.4f (%.0f distances/query), fresh %.4f (%.0f)", ef, rc, dc, rf, df)
		if rc < rf-0.01 {
			t.Errorf("ef=%d: churned recall %.4f more than 0.01 below fresh %.4f", ef, rc, rf)
		}
	}
	mc, mf := x.MemoryUsage(), fresh.MemoryUsage()
	t.Logf("memory: churned %d, fresh %d (%.3f×); slots %d, tombstones %d", mc, mf, float64(mc)/float64(mf), x.nslots.Load(), x.ndeleted.Load())
	if float64(mc) > 1.15*float64(mf) {
		t.Errorf("memory after churn %.3f× a fresh build's", float64(mc)/float64(mf))
	}
}

func ExampleIndex_Update() {
	idx, _ := New(Config{Dim: 2, M: 8, Seed: 1})
	for i := range 100 {
		idx.Add(uint64(i), []float32{float32(i % 10), float32(i / 10)})
	}
	// Item 7 moves next to (5.5, 5.5); item 42 leaves for good.
	if err := idx.Update(7, []float32{5.6, 5.4}); err != nil {
		panic(err)
	}
	if err := idx.Delete(42); err != nil {
		panic(err)
	}
	res, _ := idx.Search(nil, []float32{5.5, 5.5}, 3, nearkit.SearchOptions{Ef: 32})
	for _, r := range res {
		fmt.Printf("id %d at %.2f\n", r.ID, r.Distance)
	}
	// Vacuum unlinks the tombstones (42 and 7's old node) and frees their
	// slots for the next additions.
	freed, _ := idx.Vacuum(context.Background())
	fmt.Println("slots freed:", freed, "vectors:", idx.Len())
	// Output:
	// id 7 at 0.02
	// id 55 at 0.50
	// id 56 at 0.50
	// slots freed: 2 vectors: 99
}

func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "hnsw-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "grid.hnsw")
	idx, _ := New(Config{Dim: 2, M: 8, Seed: 1})
	for i := range 100 {
		idx.Add(uint64(i), []float32{float32(i % 10), float32(i / 10)})
	}
	if err := idx.Save(path); err != nil {
		panic(err)
	}
	// Serve the saved file read-only, without reading it into the heap.
	ro, err := Open(path, OpenOptions{})
	if err != nil {
		fmt.Println(err) // on systems without mmap
		return
	}
	res, _ := ro.Search(nil, []float32{3.1, 4.2}, 1, nearkit.SearchOptions{})
	fmt.Println("nearest:", res[0].ID)
	fmt.Println("Add:", ro.Add(100, []float32{0, 0}))
	ro.Close()
	_, err = ro.Search(nil, []float32{3.1, 4.2}, 1, nearkit.SearchOptions{})
	fmt.Println("after Close:", err)
	// Output:
	// nearest: 43
	// Add: nearkit: index is read-only: hnsw: memory-mapped index
	// after Close: hnsw: index is closed
}

// Sequential Add, Delete and Update calls give the same index every time,
// automatic Vacuums included.
func TestDeterministicChurn(t *testing.T) {
	n, dim := scaled(1500), 8
	data := clustered(rand.New(rand.NewPCG(71, 72)), 3*n, dim)
	run := func() []byte {
		x, _ := New(Config{Dim: dim, M: 6, Seed: 3})
		for i := range n {
			x.Add(uint64(i), data[i*dim:(i+1)*dim])
		}
		for i := range n {
			if i%3 == 0 {
				x.Delete(uint64(i))
			}
			if i%5 == 1 {
				x.Update(uint64(i), data[(n+i)*dim:][:dim])
			}
			x.Add(uint64(n+i), data[(2*n+i)*dim:][:dim])
		}
		if len(x.life.free) == 0 && x.nslots.Load() >= uint32(2*n+n/5) {
			t.Fatal("no slot was reused")
		}
		var buf bytes.Buffer
		x.WriteTo(&buf)
		return buf.Bytes()
	}
	if !bytes.Equal(run(), run()) {
		t.Fatal("two identical sequences of calls built different indexes")
	}
}
