package hnsw

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// exactAllowed is the brute-force top-k over the allowed IDs (vector i has
// ID i*3+1, as in build).
func exactAllowed(m distance.Metric, data, q []float32, dim, k int, f nearkit.Filter, deleted map[uint64]bool) []uint64 {
	kern := m.Kernels()
	qq := slices.Clone(q)
	if m.Normalizes() {
		distance.Normalize(qq)
	}
	type pair struct {
		d  float32
		id uint64
	}
	var all []pair
	v := make([]float32, dim)
	for i := range len(data) / dim {
		id := uint64(i)*3 + 1
		if !f.Allowed(id) || deleted[id] {
			continue
		}
		copy(v, data[i*dim:(i+1)*dim])
		if m.Normalizes() {
			distance.Normalize(v)
		}
		all = append(all, pair{kern.Distance(qq, v), id})
	}
	slices.SortFunc(all, func(a, b pair) int {
		if a.d != b.d {
			if a.d < b.d {
				return -1
			}
			return 1
		}
		if a.id < b.id {
			return -1
		}
		return 1
	})
	ids := make([]uint64, 0, k)
	for i := range min(k, len(all)) {
		ids = append(ids, all[i].id)
	}
	return ids
}

// testFilter allows about sel of n IDs (i*3+1): "random" uniformly,
// "clustered" the vectors nearest to one vector of the set.
func testFilter(data []float32, dim int, kind string, sel float64, seed uint64) *nearkit.AllowList {
	n := len(data) / dim
	want := max(1, int(sel*float64(n)))
	rng := rand.New(rand.NewPCG(seed, 11))
	al := nearkit.NewAllowList(uint64(3*n + 1))
	if kind == "random" {
		for _, i := range rng.Perm(n)[:want] {
			al.Set(uint64(i)*3 + 1)
		}
		return al
	}
	c := data[rng.IntN(n)*dim:][:dim]
	idx := make([]int, n)
	dist := make([]float32, n)
	for i := range n {
		idx[i] = i
		dist[i] = distance.SquaredL2(c, data[i*dim:(i+1)*dim])
	}
	slices.SortFunc(idx, func(a, b int) int {
		if dist[a] < dist[b] {
			return -1
		}
		if dist[a] > dist[b] {
			return 1
		}
		return a - b
	})
	for _, i := range idx[:want] {
		al.Set(uint64(i)*3 + 1)
	}
	return al
}

// setFilterPath forces x's filter strategy for the rest of test t.
func setFilterPath(t *testing.T, x *Index, p int) {
	old := x.filterPath
	x.filterPath = p
	t.Cleanup(func() { x.filterPath = old })
}

// TestFilteredSearch checks every strategy at every selectivity, with
// random and clustered filters, as a bitset and as a predicate: results
// are allowed, sorted, exactly k (when k are allowed), with recall.
func TestFilteredSearch(t *testing.T) {
	n, nq := sizes()
	n, nq = 2*n, min(nq, 100)
	const dim, k, ef = 24, 10, 64
	rng := rand.New(rand.NewPCG(5, 6))
	data := clustered(rng, n+nq, dim)
	base, queries := data[:n*dim], data[n*dim:]
	for _, quant := range []Quantization{NoQuantization, SQ8} {
		x := buildQ(t, Config{Dim: dim, Seed: 3, Quantization: quant}, base)
		for _, kind := range []string{"random", "clustered"} {
			for _, sel := range []float64{0.5, 0.1, 0.01, 0.001} {
				al := testFilter(base, dim, kind, sel, uint64(sel*1000)+7)
				wants := make([][]uint64, nq)
				for i := range nq {
					wants[i] = exactAllowed(x.Metric(), base, queries[i*dim:(i+1)*dim], dim, k, al, nil)
				}
				for _, path := range []string{"auto", "exact", "graph"} {
					for _, form := range []string{"bitset", "func"} {
						if testing.Short() && form == "func" && path != "auto" {
							continue // the strategies do not depend on the form
						}
						var f nearkit.Filter = al
						if form == "func" {
							f = nearkit.FilterFunc(al.Allowed)
						}
						name := fmt.Sprintf("q=%v/%s/sel=%g/%s/%s", quant, kind, sel*100, path, form)
						t.Run(name, func(t *testing.T) {
							setFilterPath(t, x, map[string]int{"auto": 0, "exact": 1, "graph": 2}[path])
							hits, total := 0, 0
							var res []nearkit.Result
							for i := range nq {
								q := queries[i*dim : (i+1)*dim]
								want := wants[i]
								var err error
								res, err = x.Search(res[:0], q, k, nearkit.SearchOptions{Ef: ef, Filter: f})
								if err != nil {
									t.Fatal(err)
								}
								if len(res) != len(want) {
									t.Fatalf("query %d: %d results, want %d (allowed %d)", i, len(res), len(want), al.Count())
								}
								for _, r := range res {
									if !al.Allowed(r.ID) {
										t.Fatalf("query %d: result %d not allowed", i, r.ID)
									}
									if slices.Contains(want, r.ID) {
										hits++
									}
								}
								total += len(want)
								if !slices.IsSortedFunc(res, nearkit.CompareResults) {
									t.Fatalf("results not sorted: %v", res)
								}
							}
							recall := float64(hits) / float64(total)
							min := 0.95
							if path == "exact" {
								min = 1
							}
							if recall < min {
								t.Errorf("recall@%d = %.3f, want ≥ %.2f", k, recall, min)
							}
						})
					}
				}
			}
		}
	}
}

// buildQ is build that trains an SQ8 index on the data first.
func buildQ(t testing.TB, cfg Config, data []float32) *Index {
	t.Helper()
	if cfg.Quantization == NoQuantization {
		return build(t, cfg, data)
	}
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Train(t.Context(), data); err != nil {
		t.Fatal(err)
	}
	for i := range len(data) / cfg.Dim {
		if err := x.Add(uint64(i)*3+1, data[i*cfg.Dim:(i+1)*cfg.Dim]); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// TestFilterFewAllowed: fewer than k allowed gives all of them; none
// allowed gives no results and no error; allowed IDs the index does not
// hold are ignored.
func TestFilterFewAllowed(t *testing.T) {
	const dim = 8
	rng := rand.New(rand.NewPCG(9, 9))
	data := clustered(rng, 500, dim)
	x := build(t, Config{Dim: dim}, data)
	q := data[:dim]
	for _, path := range []int{0, 1, 2} {
		setFilterPath(t, x, path)
		al := nearkit.NewAllowList(0)
		al.Set(4)       // slot 1
		al.Set(31)      // slot 10
		al.Set(2)       // not an ID of the index
		al.Set(1 << 20) // not an ID either
		for _, f := range []nearkit.Filter{al, nearkit.FilterFunc(al.Allowed)} {
			res, err := x.Search(nil, q, 10, nearkit.SearchOptions{Filter: f})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 2 || !al.Allowed(res[0].ID) || !al.Allowed(res[1].ID) || res[0].ID == res[1].ID {
				t.Fatalf("path %d: got %v, want IDs 4 and 31", path, res)
			}
			res, err = x.Search(nil, q, 10, nearkit.SearchOptions{Filter: nearkit.FilterFunc(func(uint64) bool { return false })})
			if err != nil || len(res) != 0 {
				t.Fatalf("path %d: allow-none filter gave %v, %v", path, res, err)
			}
		}
	}
}

// TestFilterWithDeletes: deleted vectors never come back through either
// strategy, and k results still come when k allowed live vectors exist.
func TestFilterWithDeletes(t *testing.T) {
	n, _ := sizes()
	const dim, k = 16, 10
	rng := rand.New(rand.NewPCG(1, 8))
	data := clustered(rng, n, dim)
	x := build(t, Config{Dim: dim, Seed: 2}, data)
	al := testFilter(data, dim, "random", 0.2, 3)
	deleted := map[uint64]bool{}
	for id := range al.All {
		if rng.IntN(2) == 0 {
			if err := x.Delete(id); err != nil {
				t.Fatal(err)
			}
			deleted[id] = true
		}
	}
	for _, path := range []int{0, 1, 2} {
		setFilterPath(t, x, path)
		for i := range 20 {
			q := data[i*dim : (i+1)*dim]
			want := exactAllowed(x.Metric(), data, q, dim, k, al, deleted)
			res, err := x.Search(nil, q, k, nearkit.SearchOptions{Ef: 64, Filter: al})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(want) {
				t.Fatalf("path %d: %d results, want %d", path, len(res), len(want))
			}
			for _, r := range res {
				if deleted[r.ID] || !al.Allowed(r.ID) {
					t.Fatalf("path %d: result %d deleted or not allowed", path, r.ID)
				}
			}
		}
	}
}

// TestFilterEstimate checks the sampled selectivity estimate of a
// predicate without Count.
func TestFilterEstimate(t *testing.T) {
	const dim = 4
	data := clustered(rand.New(rand.NewPCG(2, 2)), 4000, dim)
	x := build(t, Config{Dim: dim, M: 4, EfConstruction: 8}, data)
	es := new(scratch)
	for _, sel := range []float64{0.5, 0.1} {
		al := testFilter(data, dim, "random", sel, 1)
		got := x.sampleAllowed(es, nearkit.FilterFunc(al.Allowed), 4000)
		if want := al.Count(); got < want/2 || got > want*2 {
			t.Errorf("sel %g: estimate %d, allowed %d", sel, got, want)
		}
		if len(es.seeds) == 0 || len(es.seeds) > filterSeeds {
			t.Errorf("sel %g: %d seeds", sel, len(es.seeds))
		}
	}
}

// TestFilterConcurrent runs filtered searches (both strategies) while
// vectors are added and deleted; run with -race.
func TestFilterConcurrent(t *testing.T) {
	n, _ := sizes()
	const dim = 16
	data := clustered(rand.New(rand.NewPCG(4, 4)), 2*n, dim)
	x := build(t, Config{Dim: dim, M: 8, EfConstruction: 32}, data[:n*dim])
	al := testFilter(data, dim, "random", 0.3, 5)
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := n; i < 2*n; i++ {
			if err := x.Add(uint64(i)*3+1, data[i*dim:(i+1)*dim]); err != nil {
				t.Error(err)
				return
			}
			if i%7 == 0 {
				_ = x.Delete(uint64(i-n)*3 + 1)
			}
		}
	})
	for w := range 2 {
		wg.Go(func() {
			var res []nearkit.Result
			for i := range n / 4 {
				f := nearkit.Filter(al)
				if (i+w)%2 == 0 {
					f = nearkit.FilterFunc(al.Allowed) // sampled: graph path more often
				}
				var err error
				res, err = x.Search(res[:0], data[i*dim:(i+1)*dim], 5, nearkit.SearchOptions{Filter: f})
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range res {
					if !al.Allowed(r.ID) {
						t.Errorf("result %d not allowed", r.ID)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func ExampleIndex_Search_filter() {
	x, _ := New(Config{Dim: 2, Seed: 1})
	for i := range 100 {
		_ = x.Add(uint64(i), []float32{float32(i), 0})
	}
	// Only even IDs: the index picks the strategy from the list's Count.
	even := nearkit.NewAllowList(100)
	for i := uint64(0); i < 100; i += 2 {
		even.Set(i)
	}
	res, _ := x.Search(nil, []float32{51, 0}, 3, nearkit.SearchOptions{Filter: even})
	for _, r := range res {
		fmt.Println(r.ID, r.Distance)
	}
	// Output:
	// 50 1
	// 52 1
	// 48 9
}
