package flat

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

var metrics = []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine}

// model is the reference: the vectors as the user gave them, searched by a
// naive float64 brute force.
type model struct {
	dim    int
	metric distance.Metric
	vecs   map[uint64][]float32
}

func newModel(dim int, m distance.Metric) *model {
	return &model{dim: dim, metric: m, vecs: map[uint64][]float32{}}
}

func (m *model) dist(a, b []float32) float64 {
	var s, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		switch m.metric {
		case distance.L2:
			s += (x - y) * (x - y)
		default:
			s += x * y
		}
		aa += x * x
		bb += y * y
	}
	switch m.metric {
	case distance.InnerProduct:
		return -s
	case distance.Cosine:
		if aa == 0 || bb == 0 {
			return 1
		}
		return 1 - s/math.Sqrt(aa*bb)
	}
	return s
}

type ref struct {
	id   uint64
	dist float64
}

func (m *model) search(q []float32, k int, f nearkit.Filter) []ref {
	var all []ref
	for id, v := range m.vecs {
		if f != nil && !f.Allowed(id) {
			continue
		}
		all = append(all, ref{id, m.dist(q, v)})
	}
	slices.SortFunc(all, func(a, b ref) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	return all[:min(k, len(all))]
}

// check compares got with the reference answer. With exact set (integer
// data, where float32 arithmetic is exact) the lists must be identical;
// otherwise distances may differ by tol and near-ties may reorder, but
// every returned ID must belong in the top k.
func (m *model) check(t *testing.T, got []nearkit.Result, q []float32, k int, f nearkit.Filter, exact bool) {
	t.Helper()
	want := m.search(q, k, f)
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d", len(got), len(want))
	}
	if !slices.IsSortedFunc(got, nearkit.CompareResults) {
		t.Fatalf("results not sorted by (distance, id): %v", got)
	}
	seen := map[uint64]bool{}
	for i, r := range got {
		if seen[r.ID] {
			t.Fatalf("id %d returned twice", r.ID)
		}
		seen[r.ID] = true
		if exact {
			if r.ID != want[i].id || float64(r.Distance) != want[i].dist {
				t.Fatalf("result %d = %+v, want {%d %v}\ngot  %v\nwant %v", i, r, want[i].id, want[i].dist, got, want)
			}
			continue
		}
		tol := 1e-4 * (1 + math.Abs(want[i].dist))
		if math.Abs(float64(r.Distance)-want[i].dist) > tol {
			t.Fatalf("result %d distance %v, want %v", i, r.Distance, want[i].dist)
		}
		v, ok := m.vecs[r.ID]
		if !ok || (f != nil && !f.Allowed(r.ID)) {
			t.Fatalf("result %d id %d is not a valid answer", i, r.ID)
		}
		if d := m.dist(q, v); d > want[len(want)-1].dist+tol {
			t.Fatalf("result %d id %d at true distance %v is beyond the k-th %v", i, r.ID, d, want[len(want)-1].dist)
		}
	}
}

// intVectors returns n vectors with small integer coordinates, so every
// distance is computed exactly in float32, and many duplicates (ties).
func intVectors(rng *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range n {
		row := v[i*dim : (i+1)*dim]
		if i > 0 && rng.IntN(4) == 0 {
			copy(row, v[rng.IntN(i)*dim:])
			continue
		}
		for j := range row {
			row[j] = float32(rng.IntN(7) - 3)
		}
	}
	return v
}

func floatVectors(rng *rand.Rand, n, dim int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func build(t testing.TB, dim int, m distance.Metric, ids []uint64, vecs []float32) (*Index, *model) {
	t.Helper()
	x, err := New(Config{Dim: dim, Metric: m})
	if err != nil {
		t.Fatal(err)
	}
	mod := newModel(dim, m)
	for i, id := range ids {
		v := vecs[i*dim : (i+1)*dim]
		if err := x.Add(id, v); err != nil {
			t.Fatal(err)
		}
		mod.vecs[id] = v
	}
	return x, mod
}

// randomIDs returns n distinct IDs in a scrambled order, so slot order
// differs from ID order and ties test the ID tie-break.
func randomIDs(rng *rand.Rand, n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i) * 3
	}
	rng.Shuffle(n, func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	return ids
}

func TestSearchExact(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 700
	}
	for _, m := range metrics {
		for _, data := range []string{"int", "float"} {
			t.Run(fmt.Sprintf("metric=%v/data=%s", m, data), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, uint64(m)))
				dim := 13
				gen := intVectors
				if data == "float" {
					gen, dim = floatVectors, 37
				}
				// Cosine needs a division: only L2 and IP are exact.
				exact := data == "int" && m != distance.Cosine
				ids := randomIDs(rng, n)
				x, mod := build(t, dim, m, ids, gen(rng, n, dim))
				queries := gen(rng, 20, dim)
				even := nearkit.FilterFunc(func(id uint64) bool { return id%2 == 0 })
				allow := nearkit.NewAllowList(0)
				for _, id := range ids[:n/10] {
					allow.Set(id)
				}
				// Sparse enough for the gather path, with IDs the
				// index does not hold.
				// Slots spread out, so slot ≠ rank among the rows.
				sparse := nearkit.NewAllowList(0)
				for j := 7; j < n; j += 80 {
					sparse.Set(ids[j])
					sparse.Set(ids[j] + 1)
				}
				filters := []nearkit.Filter{nil, even, allow, sparse}
				for qi := range 20 {
					q := queries[qi*dim : (qi+1)*dim]
					for _, k := range []int{1, 10, 100, n + 5} {
						for fi, f := range filters {
							got, err := x.Search(nil, q, k, nearkit.SearchOptions{Filter: f})
							if err != nil {
								t.Fatal(err)
							}
							t.Run("", func(t *testing.T) {
								_ = fi
								mod.check(t, got, q, k, f, exact)
							})
						}
					}
				}
				// Deletes: remove a third, including the last slot, and
				// search again.
				for _, id := range append(ids[:n/3:n/3], ids[n-1]) {
					if err := x.Delete(id); err != nil {
						t.Fatal(err)
					}
					delete(mod.vecs, id)
				}
				if x.Len() != len(mod.vecs) {
					t.Fatalf("Len = %d, want %d", x.Len(), len(mod.vecs))
				}
				for qi := range 20 {
					q := queries[qi*dim : (qi+1)*dim]
					for _, f := range filters {
						got, err := x.Search(nil, q, 10, nearkit.SearchOptions{Filter: f})
						if err != nil {
							t.Fatal(err)
						}
						mod.check(t, got, q, 10, f, exact)
					}
				}
			})
		}
	}
}

func TestSearchBatchMatchesSearch(t *testing.T) {
	// The split of work depends on GOMAXPROCS: 1 gives one query block per
	// worker and no row split; 3 splits rows among workers for small
	// batches and merges the parts.
	for _, procs := range []int{1, 3} {
		t.Run(fmt.Sprintf("procs=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			testSearchBatchMatchesSearch(t)
		})
	}
}

func testSearchBatchMatchesSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, m := range metrics {
		for _, tc := range []struct{ n, dim, nq int }{
			{1, 3, 1}, {50, 8, 3}, {3000, 24, 1}, {3000, 24, 2}, {2500, 24, 77}, {120, 700, 33}, {20000, 16, 5},
		} {
			if testing.Short() && tc.n*tc.nq > 100_000 {
				continue
			}
			t.Run(fmt.Sprintf("metric=%v/n=%d/nq=%d", m, tc.n, tc.nq), func(t *testing.T) {
				x, _ := build(t, tc.dim, m, randomIDs(rng, tc.n), intVectors(rng, tc.n, tc.dim))
				qs := intVectors(rng, tc.nq, tc.dim)
				sparse := nearkit.NewAllowList(0)
				for id := range uint64(tc.n / 20) {
					sparse.Set(id * 29)
				}
				for _, f := range []nearkit.Filter{nil, nearkit.FilterFunc(func(id uint64) bool { return id%7 != 0 }), sparse} {
					for _, k := range []int{1, 10, tc.n + 1} {
						if testing.Short() && k == 10 {
							continue
						}
						opts := nearkit.SearchOptions{Filter: f}
						got, err := x.SearchBatch(context.Background(), qs, k, opts)
						if err != nil {
							t.Fatal(err)
						}
						if len(got) != tc.nq {
							t.Fatalf("%d result lists for %d queries", len(got), tc.nq)
						}
						for i := range tc.nq {
							want, _ := x.Search(nil, qs[i*tc.dim:(i+1)*tc.dim], k, opts)
							if !slices.Equal(got[i], want) {
								t.Fatalf("query %d k=%d:\nbatch  %v\nsingle %v", i, k, got[i], want)
							}
						}
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := New(Config{}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("New(Dim 0) = %v", err)
	}
	if _, err := New(Config{Dim: -1}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("New(Dim -1) = %v", err)
	}
	if _, err := New(Config{Dim: 4, Metric: 9}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("New(Metric 9) = %v", err)
	}
	x, err := New(Config{Dim: 2})
	if err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(-1))
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"add short", x.Add(1, []float32{1}), nearkit.ErrDimension},
		{"add NaN", x.Add(1, []float32{1, nan}), nearkit.ErrInvalidVector},
		{"add Inf", x.Add(1, []float32{inf, 1}), nearkit.ErrInvalidVector},
		{"add ok", x.Add(1, []float32{1, 2}), nil},
		{"add dup", x.Add(1, []float32{3, 4}), nearkit.ErrDuplicateID},
		{"batch dup in index", x.AddBatch(ctx, []uint64{2, 1}, []float32{1, 1, 2, 2}), nearkit.ErrDuplicateID},
		{"batch dup in batch", x.AddBatch(ctx, []uint64{5, 5}, []float32{1, 1, 2, 2}), nearkit.ErrDuplicateID},
		{"batch count", x.AddBatch(ctx, []uint64{5, 6}, []float32{1, 1, 2}), nearkit.ErrDimension},
		{"batch NaN", x.AddBatch(ctx, []uint64{5, 6}, []float32{1, 1, 2, nan}), nearkit.ErrInvalidVector},
		{"delete unknown", x.Delete(42), nearkit.ErrUnknownID},
	} {
		if !errors.Is(c.err, c.want) || (c.want == nil) != (c.err == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, c.err, c.want)
		}
	}
	if x.Len() != 1 {
		t.Fatalf("failed batches changed the index: Len = %d", x.Len())
	}
	if _, err := x.Search(nil, []float32{1}, 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("search short query: %v", err)
	}
	if _, err := x.Search(nil, []float32{nan, 1}, 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("search NaN query: %v", err)
	}
	for _, k := range []int{0, -3} {
		if _, err := x.Search(nil, []float32{1, 1}, k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
			t.Errorf("search k=%d: %v", k, err)
		}
		if _, err := x.SearchBatch(ctx, []float32{1, 1}, k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
			t.Errorf("search batch k=%d: %v", k, err)
		}
	}
	if _, err := x.SearchBatch(ctx, []float32{1, 1, 1}, 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("search batch ragged: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.SearchBatch(cancelled, []float32{1, 1}, 1, nearkit.SearchOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("search batch cancelled: %v", err)
	}
	if err := x.AddBatch(cancelled, []uint64{7}, []float32{1, 1}); !errors.Is(err, context.Canceled) || x.Len() != 1 {
		t.Errorf("add batch cancelled: %v, Len %d", err, x.Len())
	}
}

func TestEmptyAndSmall(t *testing.T) {
	x, err := New(Config{Dim: 3, Metric: distance.Cosine})
	if err != nil {
		t.Fatal(err)
	}
	dst := []nearkit.Result{{ID: 99}}
	got, err := x.Search(dst, []float32{1, 2, 3}, 5, nearkit.SearchOptions{})
	if err != nil || len(got) != 1 {
		t.Fatalf("empty search = %v, %v", got, err)
	}
	res, err := x.SearchBatch(context.Background(), []float32{1, 2, 3, 4, 5, 6}, 5, nearkit.SearchOptions{})
	if err != nil || len(res) != 2 || len(res[0])+len(res[1]) != 0 {
		t.Fatalf("empty batch = %v, %v", res, err)
	}
	// A zero vector has no direction: at cosine distance 1 from everything.
	if err := x.Add(1, []float32{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(2, []float32{2, 0, 0}); err != nil {
		t.Fatal(err)
	}
	got, err = x.Search(dst, []float32{5, 0, 0}, 5, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []nearkit.Result{{ID: 99}, {ID: 2, Distance: 0}, {ID: 1, Distance: 1}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if v, ok := x.Vector(2); !ok || !slices.Equal(v, []float32{1, 0, 0}) {
		t.Fatalf("Vector(2) = %v, %v; want the normalised vector", v, ok)
	}
	if _, ok := x.Vector(3); ok {
		t.Fatal("Vector(3) found")
	}
}

// TestOverflow: finite vectors whose inner product overflows to NaN rank
// last, at +Inf, instead of corrupting the order.
func TestOverflow(t *testing.T) {
	x, err := New(Config{Dim: 2, Metric: distance.InnerProduct})
	if err != nil {
		t.Fatal(err)
	}
	big := float32(3e38)
	for id, v := range map[uint64][]float32{1: {big, big}, 2: {1, 0}, 3: {big, big}, 4: {0, 1}} {
		if err := x.Add(id, v); err != nil {
			t.Fatal(err)
		}
	}
	q := []float32{1e10, -1e10}
	inf := float32(math.Inf(1))
	want := []nearkit.Result{{ID: 2, Distance: -1e10}, {ID: 4, Distance: 1e10}, {ID: 1, Distance: inf}, {ID: 3, Distance: inf}}
	for _, k := range []int{4, 3} {
		got, err := x.Search(nil, q, k, nearkit.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[:k]) {
			t.Fatalf("k=%d: got %v, want %v", k, got, want[:k])
		}
		batch, err := x.SearchBatch(context.Background(), q, k, nearkit.SearchOptions{})
		if err != nil || !slices.Equal(batch[0], want[:k]) {
			t.Fatalf("k=%d: batch %v, %v", k, batch, err)
		}
	}
}

// TestCosineHuge: vectors whose squared norm overflows float32 still
// normalise, so direction alone decides.
func TestCosineHuge(t *testing.T) {
	x, err := New(Config{Dim: 3, Metric: distance.Cosine})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Add(1, []float32{3e30, 4e30, 0}); err != nil {
		t.Fatal(err)
	}
	if err := x.AddBatch(context.Background(), []uint64{2}, []float32{0, 1e-30, 0}); err != nil {
		t.Fatal(err)
	}
	v, _ := x.Vector(1)
	if math.Abs(float64(v[0])-0.6) > 1e-6 || math.Abs(float64(v[1])-0.8) > 1e-6 {
		t.Fatalf("stored %v, want (0.6, 0.8, 0)", v)
	}
	got, err := x.Search(nil, []float32{6e35, 8e35, 0}, 2, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 1 || math.Abs(float64(got[0].Distance)) > 1e-6 || math.Abs(float64(got[1].Distance)-0.2) > 1e-6 {
		t.Fatalf("got %v, want id 1 at 0 and id 2 at 0.2", got)
	}
}
