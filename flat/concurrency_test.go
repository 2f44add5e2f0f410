package flat

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// TestConcurrent runs adds, deletes and searches at once; run it with -race.
// Every search must see a consistent index: results sorted, and each
// returned distance exactly the one the index computes for that ID's
// current vector.
func TestConcurrent(t *testing.T) {
	const dim = 8
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	x, err := New(Config{Dim: dim, Metric: distance.L2})
	if err != nil {
		t.Fatal(err)
	}
	// Vector of ID i is (i, i, ..., i): its distance to the origin is
	// dim*i², so results are checkable while the index changes.
	vec := func(id uint64) []float32 {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(id % 1000)
		}
		return v
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 5))
			for r := range rounds {
				base := uint64(w*1_000_000 + r*20)
				ids := make([]uint64, 20)
				vecs := make([]float32, 0, 20*dim)
				for i := range ids {
					ids[i] = base + uint64(i)
					vecs = append(vecs, vec(ids[i])...)
				}
				if err := x.AddBatch(ctx, ids[10:], vecs[10*dim:]); err != nil {
					t.Error(err)
					return
				}
				for _, id := range ids[:10] {
					if err := x.Add(id, vec(id)); err != nil {
						t.Error(err)
						return
					}
				}
				for range 10 {
					id := base + uint64(rng.IntN(20))
					if err := x.Delete(id); err != nil && !errors.Is(err, nearkit.ErrUnknownID) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	check := func(res []nearkit.Result) bool {
		if !slices.IsSortedFunc(res, nearkit.CompareResults) {
			t.Errorf("unsorted: %v", res)
			return false
		}
		for _, r := range res {
			v := float32(r.ID % 1000)
			if want := dim * v * v; r.Distance != want {
				t.Errorf("id %d at distance %v, want %v", r.ID, r.Distance, want)
				return false
			}
		}
		return true
	}
	for range 2 {
		wg.Go(func() {
			q := make([]float32, dim)
			var dst []nearkit.Result
			for range rounds {
				var err error
				dst, err = x.Search(dst[:0], q, 5, nearkit.SearchOptions{})
				if err != nil || !check(dst) {
					t.Error(err)
					return
				}
				batch, err := x.SearchBatch(ctx, slices.Concat(q, q, q), 3, nearkit.SearchOptions{})
				if err != nil {
					t.Error(err)
					return
				}
				for _, res := range batch {
					if !check(res) {
						return
					}
				}
				for id, v := range x.All() {
					if v[0] != float32(id%1000) {
						t.Errorf("All: id %d has %v", id, v)
						return
					}
				}
				x.Len()
				x.MemoryUsage()
				x.Vector(7)
			}
		})
	}
	wg.Wait()
	// Every surviving ID must be found, and only those.
	count := 0
	for id, v := range x.All() {
		count++
		if got, ok := x.Vector(id); !ok || !slices.Equal(got, v) {
			t.Fatalf("Vector(%d) = %v, %v", id, got, ok)
		}
	}
	if count != x.Len() {
		t.Fatalf("All walked %d vectors, Len %d", count, x.Len())
	}
}

func TestSearchAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for _, m := range metrics {
		x, _ := build(t, 32, m, randomIDs(rng, 5000), floatVectors(rng, 5000, 32))
		q := floatVectors(rng, 1, 32)
		dst := make([]nearkit.Result, 0, 10)
		allow := nearkit.NewAllowList(20000)
		for i := range uint64(20000) {
			if i%3 == 0 {
				allow.Set(i)
			}
		}
		sparse := nearkit.NewAllowList(20000)
		for i := range uint64(20000) {
			if i%300 == 0 {
				sparse.Set(i)
			}
		}
		var st nearkit.SearchStats
		wantDist := int64(0)
		for _, opts := range []nearkit.SearchOptions{{}, {Filter: allow}, {Filter: sparse}} {
			allocs := testing.AllocsPerRun(50, func() {
				var err error
				dst, err = x.SearchWithStats(dst[:0], q, 10, opts, &st)
				if err != nil || len(dst) != 10 {
					t.Fatal(err, len(dst))
				}
			})
			if allocs != 0 {
				t.Errorf("metric %v filter %T: %v allocations per Search", m, opts.Filter, allocs)
			}
			// A scan scores every row; the gather path only the
			// allowed IDs the index holds (multiples of 3 among 300k).
			perSearch := int64(5000)
			if opts.Filter == sparse {
				perSearch = 0
				for id := range x.All() {
					if id%300 == 0 {
						perSearch++
					}
				}
			}
			wantDist += 51 * perSearch
		}
		if st.Distances != wantDist {
			t.Errorf("SearchStats.Distances = %d, want %d", st.Distances, wantDist)
		}
	}
}

func TestAddBatchLarge(t *testing.T) {
	// Larger than one AddBatch chunk, so the parallel copy runs.
	n := 3*addChunk + 17
	const dim = 5
	rng := rand.New(rand.NewPCG(7, 7))
	for _, m := range metrics {
		ids := randomIDs(rng, n)
		vecs := floatVectors(rng, n, dim)
		x, err := New(Config{Dim: dim, Metric: m})
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Add(1<<40, vecs[:dim]); err != nil {
			t.Fatal(err)
		}
		if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
			t.Fatal(err)
		}
		y, _ := build(t, dim, m, append([]uint64{1 << 40}, ids...), slices.Concat(vecs[:dim], vecs))
		if x.Len() != n+1 {
			t.Fatalf("Len = %d", x.Len())
		}
		for id, v := range y.All() {
			got, ok := x.Vector(id)
			if !ok || !slices.Equal(got, v) {
				t.Fatalf("metric %v: id %d holds %v, want %v", m, id, got, v)
			}
		}
		if mu := x.MemoryUsage(); mu < int64(n*(dim*4+8)) {
			t.Fatalf("MemoryUsage %d below the raw size", mu)
		}
	}
}

func TestDeleteShrinks(t *testing.T) {
	const n, dim = 5000, 4
	rng := rand.New(rand.NewPCG(8, 8))
	ids := randomIDs(rng, n)
	x, mod := build(t, dim, distance.L2, ids, intVectors(rng, n, dim))
	before := x.MemoryUsage()
	for _, id := range ids[:n-100] {
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
		delete(mod.vecs, id)
	}
	if after := x.MemoryUsage(); after > before/4 {
		t.Errorf("MemoryUsage %d after deleting 98%%, was %d", after, before)
	}
	q := intVectors(rng, 1, dim)
	got, err := x.Search(nil, q, 200, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mod.check(t, got, q, 200, nil, true)
	for _, id := range ids[:10] {
		if err := x.Delete(id); !errors.Is(err, nearkit.ErrUnknownID) {
			t.Fatalf("second delete of %d: %v", id, err)
		}
	}
}
