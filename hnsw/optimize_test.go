package hnsw

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// searchAll returns the results of every query (ef 40, k 10).
func searchAll(t testing.TB, x *Index, queries []float32, opts nearkit.SearchOptions) [][]nearkit.Result {
	t.Helper()
	dim := x.Dim()
	out := make([][]nearkit.Result, len(queries)/dim)
	for i := range out {
		r, err := x.Search(nil, queries[i*dim:(i+1)*dim], 10, opts)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = r
	}
	return out
}

// TestOptimize: renumbering changes where nodes live, not what any search
// returns, for every metric, with tombstones, free slots and SQ8 codes;
// the index keeps working (add, delete, update, save, load) afterwards.
func TestOptimize(t *testing.T) {
	const dim, n = 16, 3000
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"l2", Config{Dim: dim, M: 8, Seed: 1}},
		{"cosine", Config{Dim: dim, M: 8, Seed: 2, Metric: distance.Cosine}},
		{"ip", Config{Dim: dim, M: 8, Seed: 3, Metric: distance.InnerProduct}},
		{"sq8", Config{Dim: dim, M: 8, Seed: 4, Quantization: SQ8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			data := clustered(rng, n+100, dim)
			x := buildQ(t, tc.cfg, data[:n*dim])
			queries := data[n*dim:]
			// Tombstones, some reclaimed into free slots.
			for i := range 200 {
				if err := x.Delete(uint64(i*7)*3 + 1); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := x.Vacuum(t.Context()); err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				if err := x.Delete(uint64(i*11+1)*3 + 1); err != nil && !errors.Is(err, nearkit.ErrUnknownID) {
					t.Fatal(err)
				}
			}
			filter := nearkit.FilterFunc(func(id uint64) bool { return id%5 != 0 })
			before := searchAll(t, x, queries, nearkit.SearchOptions{Ef: 40})
			beforeF := searchAll(t, x, queries, nearkit.SearchOptions{Ef: 40, Filter: filter})
			ep, _ := unpackEntry(x.entry.Load())
			length, mem := x.Len(), x.MemoryUsage()
			if err := x.Optimize(t.Context()); err != nil {
				t.Fatal(err)
			}
			if ep2, _ := unpackEntry(x.entry.Load()); ep != 0 && ep2 != 0 {
				t.Errorf("entry point at slot %d after Optimize, want 0", ep2)
			}
			if x.Len() != length || x.MemoryUsage() != mem {
				t.Errorf("Len %d→%d, MemoryUsage %d→%d", length, x.Len(), mem, x.MemoryUsage())
			}
			if err := x.checkGraph(); err != nil {
				t.Fatal(err)
			}
			after := searchAll(t, x, queries, nearkit.SearchOptions{Ef: 40})
			afterF := searchAll(t, x, queries, nearkit.SearchOptions{Ef: 40, Filter: filter})
			for i := range before {
				if !slices.Equal(before[i], after[i]) || !slices.Equal(beforeF[i], afterF[i]) {
					t.Fatalf("query %d: results changed:\n%v\n%v", i, before[i], after[i])
				}
			}
			// Still a working index: reuse a free slot, delete, update,
			// round-trip through a file.
			if err := x.Add(1, data[:dim]); err != nil {
				t.Fatal(err)
			}
			if err := x.Delete(10); err != nil {
				t.Fatal(err)
			}
			if err := x.Update(7, data[dim:2*dim]); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := x.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			y, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			a, b := searchAll(t, x, queries, nearkit.SearchOptions{}), searchAll(t, y, queries, nearkit.SearchOptions{})
			for i := range a {
				if !slices.Equal(a[i], b[i]) {
					t.Fatalf("query %d: loaded copy differs", i)
				}
			}
		})
	}
}

// checkGraph: every live slot's links point at existing slots, the ID map
// and the labels agree.
func (x *Index) checkGraph() error {
	d := x.dir.Load()
	n := x.nslots.Load()
	for s := range n {
		for l := 0; l <= x.levelOf(d, s); l++ {
			list := x.list(d, s, l)
			for _, id := range list[1 : 1+list[0]] {
				if id >= n {
					return errors.New("link out of range")
				}
			}
		}
	}
	x.idMu.RLock()
	defer x.idMu.RUnlock()
	for id, s := range x.ids {
		if got := d.chunks[s>>x.shift].labels[s&x.mask]; got != id {
			return errors.New("ID map and labels disagree")
		}
	}
	return nil
}

// TestOptimizeConcurrent: searches running while Optimize renumbers the
// slots (they wait, or finish first) always get the same results.
func TestOptimizeConcurrent(t *testing.T) {
	const dim = 12
	n := 4000
	if testing.Short() {
		n = 1500
	}
	rng := rand.New(rand.NewPCG(7, 8))
	data := clustered(rng, n+50, dim)
	x := build(t, Config{Dim: dim, M: 8, Seed: 1}, data[:n*dim])
	queries := data[n*dim:]
	want := searchAll(t, x, queries, nearkit.SearchOptions{Ef: 30})
	var stop atomic.Bool
	var wg sync.WaitGroup
	var searches atomic.Int64
	for w := range 3 {
		wg.Go(func() {
			var res []nearkit.Result
			for i := w; !stop.Load(); i++ {
				qi := i % len(want)
				var err error
				res, err = x.Search(res[:0], queries[qi*dim:(qi+1)*dim], 10, nearkit.SearchOptions{Ef: 30})
				if err != nil {
					t.Error(err)
					return
				}
				if !slices.Equal(res, want[qi]) {
					t.Errorf("query %d during Optimize: %v, want %v", qi, res, want[qi])
					return
				}
				searches.Add(1)
			}
		})
	}
	for range 5 {
		if err := x.Optimize(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d searches alongside 5 Optimize runs", searches.Load())
}

// TestOptimizeRefusals: cancelled context (index unchanged), closed and
// memory-mapped indexes.
func TestOptimizeRefusals(t *testing.T) {
	const dim = 8
	rng := rand.New(rand.NewPCG(9, 10))
	data := clustered(rng, 500, dim)
	x := build(t, Config{Dim: dim, Seed: 1}, data)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	before := searchAll(t, x, data[:10*dim], nearkit.SearchOptions{})
	if err := x.Optimize(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	after := searchAll(t, x, data[:10*dim], nearkit.SearchOptions{})
	for i := range before {
		if !slices.Equal(before[i], after[i]) {
			t.Fatal("cancelled Optimize changed results")
		}
	}
	empty, _ := New(Config{Dim: dim})
	if err := empty.Optimize(t.Context()); err != nil {
		t.Fatalf("empty index: %v", err)
	}
	path := filepath.Join(t.TempDir(), "x.nkhnsw")
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Optimize(t.Context()); !errors.Is(err, nearkit.ErrReadOnly) {
		t.Fatalf("mapped index: %v", err)
	}
	x.Close()
	if err := x.Optimize(t.Context()); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed index: %v", err)
	}
}

// TestOptimizeWithWriters: Optimize interleaved with concurrent Add,
// Delete and Search (run under -race in CI) loses nothing: every vector
// added is found afterwards as its own nearest neighbour.
func TestOptimizeWithWriters(t *testing.T) {
	const dim = 12
	n := 3000
	if testing.Short() {
		n = 1200
	}
	rng := rand.New(rand.NewPCG(11, 12))
	data := clustered(rng, 2*n, dim)
	x := build(t, Config{Dim: dim, M: 8, Seed: 1}, data[:n*dim])
	var wg sync.WaitGroup
	var stop atomic.Bool
	wg.Go(func() {
		for i := n; i < 2*n; i++ {
			if err := x.Add(uint64(i)*3+1, data[i*dim:(i+1)*dim]); err != nil {
				t.Error(err)
				return
			}
			if i%10 == 0 {
				if err := x.Delete(uint64(i-n)*3 + 1); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	wg.Go(func() {
		var res []nearkit.Result
		for i := 0; !stop.Load(); i++ {
			q := data[(i%n)*dim : (i%n+1)*dim]
			var err error
			if res, err = x.Search(res[:0], q, 5, nearkit.SearchOptions{Ef: 20}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		if err := x.Optimize(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if err := x.Optimize(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := x.checkGraph(); err != nil {
		t.Fatal(err)
	}
	if want := 2*n - n/10; x.Len() != want {
		t.Fatalf("Len %d, want %d", x.Len(), want)
	}
	missed := 0
	for i := n; i < 2*n; i++ {
		res, err := x.Search(nil, data[i*dim:(i+1)*dim], 1, nearkit.SearchOptions{Ef: 64})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) == 0 || res[0].ID != uint64(i)*3+1 {
			missed++
		}
	}
	if missed > n/100 {
		t.Errorf("%d of %d added vectors not found as their own nearest neighbour", missed, n)
	}
}
