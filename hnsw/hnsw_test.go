package hnsw

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// clustered returns n vectors of dimension dim around 32 random centres,
// the shape of real embeddings (uniform random data has no neighbourhoods
// and makes every index look bad).
func clustered(rng *rand.Rand, n, dim int) []float32 {
	const nc = 32
	centres := make([]float32, nc*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64())
	}
	out := make([]float32, n*dim)
	for i := range n {
		c := rng.IntN(nc)
		for j := range dim {
			out[i*dim+j] = centres[c*dim+j] + 0.8*float32(rng.NormFloat64())
		}
	}
	return out
}

// exact is the brute-force top-k under the index's distance, by user ID
// (vector i has ID i*3+1, so IDs and slots differ).
func exact(m distance.Metric, data, q []float32, dim, k int) []uint64 {
	kern := m.Kernels()
	qq := slices.Clone(q)
	if m.Normalizes() {
		distance.Normalize(qq)
	}
	type pair struct {
		d  float32
		id uint64
	}
	all := make([]pair, len(data)/dim)
	v := make([]float32, dim)
	for i := range all {
		copy(v, data[i*dim:(i+1)*dim])
		if m.Normalizes() {
			distance.Normalize(v)
		}
		all[i] = pair{kern.Distance(qq, v), uint64(i)*3 + 1}
	}
	slices.SortFunc(all, func(a, b pair) int {
		if a.d < b.d {
			return -1
		}
		if a.d > b.d {
			return 1
		}
		return 0
	})
	ids := make([]uint64, k)
	for i := range ids {
		ids[i] = all[i].id
	}
	return ids
}

func build(t testing.TB, cfg Config, data []float32) *Index {
	t.Helper()
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(data) / cfg.Dim {
		if err := x.Add(uint64(i)*3+1, data[i*cfg.Dim:(i+1)*cfg.Dim]); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func recallAt(t testing.TB, x *Index, data, queries []float32, k, ef int) float64 {
	t.Helper()
	dim := x.Dim()
	hits, total := 0, 0
	var res []nearkit.Result
	for i := range len(queries) / dim {
		q := queries[i*dim : (i+1)*dim]
		var err error
		res, err = x.Search(res[:0], q, k, nearkit.SearchOptions{Ef: ef})
		if err != nil {
			t.Fatal(err)
		}
		want := exact(x.Metric(), data, q, dim, k)
		for _, r := range res {
			if slices.Contains(want, r.ID) {
				hits++
			}
		}
		total += k
		if !slices.IsSortedFunc(res, nearkit.CompareResults) {
			t.Fatalf("results not sorted: %v", res)
		}
	}
	return float64(hits) / float64(total)
}

// scaled shrinks a test size under -short and more under -race, which
// CI runs with -short and where everything is ~10× slower.
func scaled(n int) int {
	if raceEnabled {
		return n / 5
	}
	if testing.Short() {
		return n / 2
	}
	return n
}

func sizes() (n, nq int) {
	if raceEnabled {
		return 600, 20
	}
	if testing.Short() {
		return 1500, 40
	}
	return 5000, 200
}

func TestRecall(t *testing.T) {
	n, nq := sizes()
	const dim = 32
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(m)))
			data := clustered(rng, n+nq, dim)
			data, queries := data[:n*dim], data[n*dim:]
			x := build(t, Config{Dim: dim, Metric: m, Seed: 7}, data)
			if x.Len() != n {
				t.Fatalf("Len = %d, want %d", x.Len(), n)
			}
			r := recallAt(t, x, data, queries, 10, 64)
			t.Logf("%s: recall@10 at ef=64: %.4f", m, r)
			if r < 0.95 {
				t.Errorf("recall@10 = %.4f at ef=64, want ≥ 0.95", r)
			}
			// At ef = k the beam is as narrow as it gets; hnswlib reaches
			// about 0.93 here on such data.
			if r10 := recallAt(t, x, data, queries, 10, 10); r10 < 0.85 {
				t.Errorf("recall@10 = %.4f at ef=10, want ≥ 0.85", r10)
			}
			// A wider beam must not hurt.
			if r2 := recallAt(t, x, data, queries, 10, 256); r2 < r-0.005 {
				t.Errorf("recall at ef=256 (%.4f) below ef=64 (%.4f)", r2, r)
			}
		})
	}
}

// A vector in the index is its own nearest neighbour at distance 0.
func TestFindsItself(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n, dim := scaled(1000), 16
	data := clustered(rng, n, dim)
	x := build(t, Config{Dim: dim, M: 8}, data)
	for i := 0; i < n; i += 37 {
		res, err := x.Search(nil, data[i*dim:(i+1)*dim], 1, nearkit.SearchOptions{Ef: 50})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].ID != uint64(i)*3+1 || res[0].Distance != 0 {
			t.Fatalf("query %d: got %v", i, res)
		}
	}
}

func TestDeterministicBuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n, dim := scaled(1500), 24
	data := clustered(rng, n, dim)
	var files [3][]byte
	for i, seed := range []uint64{42, 42, 43} {
		x := build(t, Config{Dim: dim, Seed: seed}, data)
		var buf bytes.Buffer
		if _, err := x.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		files[i] = buf.Bytes()
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("two builds with the same seed and order differ")
	}
	if bytes.Equal(files[0], files[2]) {
		t.Error("builds with different seeds are identical: the seed is ignored")
	}
}

func TestErrors(t *testing.T) {
	for _, cfg := range []Config{
		{}, {Dim: -1}, {Dim: MaxDim + 1}, {Dim: 4, M: 1}, {Dim: 4, M: MaxM + 1},
		{Dim: 4, EfConstruction: -1}, {Dim: 4, EfSearch: -5}, {Dim: 4, Metric: 9}, {Dim: 4, Capacity: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	x, err := New(Config{Dim: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Searching an empty index: no results, no error.
	res, err := x.Search(nil, []float32{1, 2, 3}, 5, nearkit.SearchOptions{})
	if err != nil || len(res) != 0 {
		t.Fatalf("empty index: %v, %v", res, err)
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	checks := []struct {
		err  error
		want error
	}{
		{x.Add(1, []float32{1, 2}), nearkit.ErrDimension},
		{x.Add(1, []float32{1, nan, 2}), nearkit.ErrInvalidVector},
		{x.Add(1, []float32{1, inf, 2}), nearkit.ErrInvalidVector},
		{x.Add(1, []float32{1, 2, 3}), nil},
		{x.Add(1, []float32{4, 5, 6}), nearkit.ErrDuplicateID},
		{x.AddBatch(context.Background(), []uint64{2, 3}, []float32{1, 2, 3}), nearkit.ErrDimension},
		{x.AddBatch(context.Background(), []uint64{2, 1}, make([]float32, 6)), nearkit.ErrDuplicateID},
		{x.AddBatch(context.Background(), []uint64{2, 2}, make([]float32, 6)), nearkit.ErrDuplicateID},
		{x.Delete(99), nearkit.ErrUnknownID},
	}
	for i, c := range checks {
		if !errors.Is(c.err, c.want) || (c.want == nil) != (c.err == nil) {
			t.Errorf("check %d: got %v, want %v", i, c.err, c.want)
		}
	}
	if x.Len() != 1 {
		t.Fatalf("failed adds changed the index: Len = %d", x.Len())
	}
	for _, c := range []struct {
		q    []float32
		k    int
		ef   int
		want error
	}{
		{[]float32{1, 2}, 1, 0, nearkit.ErrDimension},
		{[]float32{nan, 2, 3}, 1, 0, nearkit.ErrInvalidVector},
		{[]float32{1, 2, 3}, 0, 0, nearkit.ErrInvalidK},
		{[]float32{1, 2, 3}, -1, 0, nearkit.ErrInvalidK},
		{[]float32{1, 2, 3}, 1, -1, nearkit.ErrInvalidConfig},
	} {
		if _, err := x.Search(nil, c.q, c.k, nearkit.SearchOptions{Ef: c.ef}); !errors.Is(err, c.want) {
			t.Errorf("Search(%v, k=%d, ef=%d) = %v, want %v", c.q, c.k, c.ef, err, c.want)
		}
	}
	if _, err := x.SearchBatch(context.Background(), []float32{1, 2}, 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("SearchBatch bad dim: %v", err)
	}
}

func TestSearchZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	n, dim := scaled(3000), 32
	data := clustered(rng, n, dim)
	for _, m := range []distance.Metric{distance.L2, distance.Cosine} {
		x := build(t, Config{Dim: dim, Metric: m}, data)
		dst := make([]nearkit.Result, 0, 10)
		q := data[5*dim : 6*dim]
		var st nearkit.SearchStats
		allocs := testing.AllocsPerRun(200, func() {
			dst, _ = x.SearchWithStats(dst[:0], q, 10, nearkit.SearchOptions{Ef: 80}, &st)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Search, want 0", m, allocs)
		}
		if st.Distances == 0 {
			t.Errorf("%s: no distances counted", m)
		}
	}
}

func TestDeleteExcludes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	n, dim := scaled(2000), 16
	data := clustered(rng, n, dim)
	x := build(t, Config{Dim: dim}, data)
	deleted := map[uint64]bool{}
	for i := 0; i < n; i += 3 {
		id := uint64(i)*3 + 1
		if err := x.Delete(id); err != nil {
			t.Fatal(err)
		}
		deleted[id] = true
	}
	if err := x.Delete(1); !errors.Is(err, nearkit.ErrUnknownID) {
		t.Fatalf("second delete: %v", err)
	}
	if x.Len() != n-len(deleted) {
		t.Fatalf("Len = %d, want %d", x.Len(), n-len(deleted))
	}
	for i := 0; i < n; i += 11 {
		res, err := x.Search(nil, data[i*dim:(i+1)*dim], 10, nearkit.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 10 {
			t.Fatalf("got %d results, want 10", len(res))
		}
		for _, r := range res {
			if deleted[r.ID] {
				t.Fatalf("deleted id %d returned", r.ID)
			}
		}
	}
	// The ID is free again after Delete.
	if err := x.Add(1, data[:dim]); err != nil {
		t.Fatal(err)
	}
	res, _ := x.Search(nil, data[:dim], 1, nearkit.SearchOptions{})
	if len(res) != 1 || res[0].ID != 1 {
		t.Fatalf("re-added id not found: %v", res)
	}
}

func TestFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	n, dim := scaled(2000), 16
	data := clustered(rng, n, dim)
	x := build(t, Config{Dim: dim}, data)
	even := nearkit.FilterFunc(func(id uint64) bool { return (id-1)/3%2 == 0 })
	res, err := x.Search(nil, data[:dim], 10, nearkit.SearchOptions{Filter: even})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 10 {
		t.Fatalf("%d results", len(res))
	}
	for _, r := range res {
		if !even.Allowed(r.ID) {
			t.Fatalf("filtered-out id %d returned", r.ID)
		}
	}
}

func TestAddBatch(t *testing.T) {
	n, nq := sizes()
	const dim = 32
	rng := rand.New(rand.NewPCG(13, 14))
	data := clustered(rng, n+nq, dim)
	data, queries := data[:n*dim], data[n*dim:]
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)*3 + 1
	}
	x, _ := New(Config{Dim: dim})
	if err := x.AddBatch(context.Background(), ids, data); err != nil {
		t.Fatal(err)
	}
	if x.Len() != n {
		t.Fatalf("Len = %d", x.Len())
	}
	if r := recallAt(t, x, data, queries, 10, 64); r < 0.95 {
		t.Errorf("parallel build recall@10 = %.4f, want ≥ 0.95", r)
	}
	res, err := x.SearchBatch(context.Background(), queries, 10, nearkit.SearchOptions{})
	if err != nil || len(res) != nq {
		t.Fatalf("SearchBatch: %d, %v", len(res), err)
	}
	for i, r := range res {
		single, _ := x.Search(nil, queries[i*dim:(i+1)*dim], 10, nearkit.SearchOptions{})
		if !slices.Equal(r, single) {
			t.Fatalf("query %d: batch %v, single %v", i, r, single)
		}
	}
}

func TestAddBatchCancelled(t *testing.T) {
	const n, dim = 500, 8
	data := clustered(rand.New(rand.NewPCG(15, 16)), n, dim)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	x, _ := New(Config{Dim: dim})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := x.AddBatch(ctx, ids, data); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after a cancelled batch", x.Len())
	}
	// The IDs are free and the index still works and round-trips.
	if err := x.AddBatch(context.Background(), ids, data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(&buf); err != nil {
		t.Fatal(err)
	}
}

// Concurrent Add, AddBatch, Delete and Search: run with -race.
func TestConcurrentAddSearch(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 800
	}
	const dim = 16
	data := clustered(rand.New(rand.NewPCG(17, 18)), n, dim)
	x, _ := New(Config{Dim: dim, M: 8, EfConstruction: 64})
	half := n / 2
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 3 {
		wg.Go(func() {
			for i := w; i < half; i += 3 {
				if err := x.Add(uint64(i), data[i*dim:(i+1)*dim]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		ids := make([]uint64, n-half)
		for i := range ids {
			ids[i] = uint64(half + i)
		}
		if err := x.AddBatch(context.Background(), ids, data[half*dim:]); err != nil {
			errs <- err
		}
	})
	for w := range 2 {
		wg.Go(func() {
			var res []nearkit.Result
			for i := range 400 {
				q := data[((i*7+w)%n)*dim:][:dim]
				var err error
				res, err = x.Search(res[:0], q, 5, nearkit.SearchOptions{Ef: 20})
				if err != nil {
					errs <- err
					return
				}
				if i%50 == 0 {
					x.Delete(uint64(i)) // may not be there yet
					x.MemoryUsage()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every vector still present is found as its own nearest neighbour.
	missed := 0
	for i := 0; i < n; i += 7 {
		res, _ := x.Search(nil, data[i*dim:(i+1)*dim], 1, nearkit.SearchOptions{Ef: 64})
		if len(res) != 1 || res[0].Distance != 0 {
			missed++
		}
	}
	if missed > n/7/50 {
		t.Errorf("%d of %d vectors not found after concurrent build", missed, n/7)
	}
}

func TestPersistRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	n, dim := scaled(1500), 24
	data := clustered(rng, n, dim)
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		x := build(t, Config{Dim: dim, Metric: m, M: 12, EfSearch: 40, Seed: 3}, data)
		x.Delete(4)
		path := filepath.Join(t.TempDir(), "idx.hnsw")
		if err := x.Save(path); err != nil {
			t.Fatal(err)
		}
		y, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if y.Len() != x.Len() || y.Dim() != dim || y.Metric() != m || y.Config() != x.Config() {
			t.Fatalf("loaded index differs: %+v vs %+v", y.Config(), x.Config())
		}
		for i := 0; i < n; i += 13 {
			q := data[i*dim : (i+1)*dim]
			a, _ := x.Search(nil, q, 10, nearkit.SearchOptions{})
			b, _ := y.Search(nil, q, 10, nearkit.SearchOptions{})
			if !slices.Equal(a, b) {
				t.Fatalf("%s query %d: %v vs %v", m, i, a, b)
			}
		}
		// Both continue identically: the level generator state is saved.
		extra := clustered(rng, 50, dim)
		for i := range 50 {
			x.Add(uint64(1e6+i), extra[i*dim:(i+1)*dim])
			y.Add(uint64(1e6+i), extra[i*dim:(i+1)*dim])
		}
		var bx, by bytes.Buffer
		x.WriteTo(&bx)
		y.WriteTo(&by)
		if !bytes.Equal(bx.Bytes(), by.Bytes()) {
			t.Fatalf("%s: indexes diverge after load and further adds", m)
		}
	}
}

func TestReadRejectsCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	n, dim := scaled(300), 8
	x := build(t, Config{Dim: dim, M: 4}, clustered(rng, n, dim))
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	if _, err := Read(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	isData := func(err error) bool {
		return errors.Is(err, nearkit.ErrCorrupt) || errors.Is(err, nearkit.ErrIncompatible)
	}
	for cut := 0; cut < len(good); cut += 1 + cut/8 {
		if _, err := Read(bytes.NewReader(good[:cut])); !isData(err) {
			t.Fatalf("truncated at %d: %v", cut, err)
		}
	}
	for range scaled(1000) {
		bad := slices.Clone(good)
		p := rng.IntN(len(bad))
		bad[p] ^= byte(1 + rng.IntN(255))
		if _, err := Read(bytes.NewReader(bad)); !isData(err) {
			t.Fatalf("byte %d flipped: %v", p, err)
		}
	}
	foreign := slices.Clone(good)
	copy(foreign, "NKFLAT\x00\x00")
	if _, err := Read(bytes.NewReader(foreign)); !errors.Is(err, nearkit.ErrIncompatible) {
		t.Fatalf("foreign magic: %v", err)
	}
}

// FuzzRead: no input may panic Read or make it return a broken index.
func FuzzRead(f *testing.F) {
	rng := rand.New(rand.NewPCG(23, 24))
	x := build(f, Config{Dim: 4, M: 2}, clustered(rng, 40, 4))
	var buf bytes.Buffer
	x.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		y, err := Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		y.Search(nil, []float32{1, 2, 3, 4}, 3, nearkit.SearchOptions{})
	})
}

// TestDescentPath: skipping nodes already scored in the descent (greedy)
// ends every level at the node hnswlib's plain walk reaches, with fewer
// distance computations.
func TestDescentPath(t *testing.T) {
	const dim = 24
	rng := rand.New(rand.NewPCG(8, 9))
	data := clustered(rng, 4000, dim)
	x := build(t, Config{Dim: dim, M: 6, Seed: 3}, data)
	plain := func(q []float32, cur uint32, curD float32, l int) (uint32, float32, int) {
		d := x.dir.Load()
		n := 0
		for changed := true; changed; {
			changed = false
			list := x.list(d, cur, l)
			for _, id := range list[1 : 1+list[0]] {
				dd := x.dist(q, x.vecOf(d, id))
				n++
				if dd < curD {
					curD, cur, changed = dd, id, true
				}
			}
		}
		return cur, curD, n
	}
	ep, maxL := unpackEntry(x.entry.Load())
	if maxL < 2 {
		t.Fatalf("max level %d: too few levels to test", maxL)
	}
	var plainN, skipN int64
	for range 300 {
		q := clustered(rng, 1, dim)
		d := x.dir.Load()
		epD := x.dist(q, x.vecOf(d, ep))
		sc := x.getScratch()
		sc.nextPass(int(x.nslots.Load()))[ep] = sc.gen // the pass descend starts
		a, aD := ep, epD
		b, bD := ep, epD
		fs := floatScorer{x: x, q: q}
		for l := maxL; l > 0; l-- {
			var n int
			a, aD, n = plain(q, a, aD, l)
			plainN += int64(n)
			b, bD = greedy(x, sc, &fs, b, bD, l)
			if a != b || aD != bD {
				t.Fatalf("level %d: plain walk ends at %d (%g), skipping walk at %d (%g)", l, a, aD, b, bD)
			}
		}
		skipN += sc.ndist
		x.scratch.Put(sc)
	}
	if skipN >= plainN {
		t.Errorf("skipping walk scored %d nodes, plain walk %d", skipN, plainN)
	}
	t.Logf("distances: plain %d, skipping %d", plainN, skipN)
}
