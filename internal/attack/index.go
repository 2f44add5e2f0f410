package attack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
)

// Dim is the dimension of the indexes IndexCases attacks.
const Dim = 8

// NewIndex returns a fresh index of dimension Dim holding n vectors
// (Vectors(n)) under IDs(n), for IndexCases.
type NewIndex func(t *testing.T, n int) nearkit.Index

// IDs returns n hashed 64-bit IDs, spread over the whole uint64 range as
// a service's hashed keys are (the first is math.MaxUint64).
func IDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = math.MaxUint64 - uint64(i)*0x9E3779B97F4A7C15
	}
	return ids
}

// Vectors returns n reproducible vectors of dimension Dim in [-1, 1).
func Vectors(n int) []float32 {
	r := rand.New(rand.NewPCG(uint64(n), 5))
	v := make([]float32, n*Dim)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

// Hostile vectors of dimension Dim, by what is wrong with them.
func hostileVectors() map[string][]float32 {
	nan, inf := make([]float32, Dim), make([]float32, Dim)
	nan[3], inf[5] = float32(math.NaN()), float32(math.Inf(-1))
	return map[string][]float32{
		"nil":   nil,
		"empty": {},
		"short": make([]float32, Dim-1),
		"long":  make([]float32, Dim+1),
		"NaN":   nan,
		"Inf":   inf,
	}
}

// wantFor returns the sentinel a hostile vector must give.
func wantFor(name string) error {
	if name == "NaN" || name == "Inf" {
		return nearkit.ErrInvalidVector
	}
	return nearkit.ErrDimension
}

// hugeKs are the k a search must clamp to Len without allocating for;
// badKs those it must refuse with ErrInvalidK.
var (
	hugeKs = []int{1 << 40, math.MaxInt}
	badKs  = []int{0, -1, math.MinInt}
)

// hostileOptions are search options out of range; a search must refuse
// them with an error or clamp them, within the allocation bound, never
// panic.
var hostileOptions = map[string]nearkit.SearchOptions{
	"Ef=-1":           {Ef: -1},
	"Ef=MaxInt":       {Ef: math.MaxInt},
	"NProbe=-1":       {NProbe: -1},
	"NProbe=MaxInt":   {NProbe: math.MaxInt},
	"Rerank=-1":       {Rerank: -1},
	"Rerank=MaxInt":   {Rerank: math.MaxInt},
	"Filter=none":     {Filter: nearkit.FilterFunc(func(uint64) bool { return false })},
	"Filter=MaxInt64": {Filter: nearkit.NewAllowList(math.MaxUint64)},
}

// maxCallBytes bounds what one hostile call on a small index may
// allocate.
const maxCallBytes = 64 << 20

// Calls counts the hostile calls IndexCases and the package suites make,
// for the closing numbers of the attack suite.
var Calls int

// Must fails t unless err wraps want (any error when want is nil and
// wantErr).
func Must(t testing.TB, what string, err, want error) {
	t.Helper()
	Calls++
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// Bounded runs f, failing t if it panics or allocates more than
// maxCallBytes.
func Bounded(t testing.TB, what string, f func()) {
	t.Helper()
	Calls++
	res := Run(func(io.Reader) error { f(); return nil }, nil)
	if res.Panic != nil {
		t.Errorf("%s: panic: %v", what, res.Panic)
	}
	if res.Allocated > maxCallBytes {
		t.Errorf("%s: allocated %d bytes", what, res.Allocated)
	}
}

// Panics fails t unless f panics: the documented answer of an unchecked
// fast path to a short or inconsistent argument, rather than a read or
// write out of its bounds.
func Panics(t testing.TB, what string, f func()) {
	t.Helper()
	Calls++
	defer func() {
		t.Helper()
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	f()
}

// IndexCases returns the hostile-argument cases of the nearkit.Index
// contract (and SearchWithStats), named "Index.Method", for the index
// kind newIndex builds.
func IndexCases(newIndex NewIndex) Cases {
	const n = 100
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	ids, vecs := IDs(n), Vectors(n)
	q := vecs[Dim : 2*Dim]
	// The cases that only read share one index of each size: building
	// is most of the suite's time under the race detector.
	built := map[int]nearkit.Index{}
	shared := func(t *testing.T, m int) nearkit.Index {
		if built[m] == nil {
			built[m] = newIndex(t, m)
		}
		return built[m]
	}
	search := func(t *testing.T, name string, do func(x nearkit.Index, q []float32, k int, o nearkit.SearchOptions) ([]nearkit.Result, error)) {
		x := shared(t, n)
		for vn, v := range hostileVectors() {
			_, err := do(x, v, 10, nearkit.SearchOptions{})
			Must(t, fmt.Sprintf("%s with a %s query", name, vn), err, wantFor(vn))
		}
		for _, k := range badKs {
			_, err := do(x, q, k, nearkit.SearchOptions{})
			Must(t, fmt.Sprintf("%s k=%d", name, k), err, nearkit.ErrInvalidK)
		}
		for _, k := range hugeKs {
			Bounded(t, fmt.Sprintf("%s k=%d", name, k), func() {
				res, err := do(x, q, k, nearkit.SearchOptions{})
				if err != nil || len(res) > x.Len() || len(res) < min(10, x.Len()) {
					t.Errorf("%s k=%d: %d results of %d, %v", name, k, len(res), x.Len(), err)
				}
			})
		}
		for on, o := range hostileOptions {
			Bounded(t, name+" "+on, func() {
				res, err := do(x, q, 10, o)
				if err == nil && len(res) > 10 {
					t.Errorf("%s %s: %d results", name, on, len(res))
				}
			})
		}
		empty := shared(t, 0)
		Bounded(t, name+" on an empty index", func() {
			res, err := do(empty, q, 10, nearkit.SearchOptions{})
			if len(res) != 0 || (err != nil && !errors.Is(err, nearkit.ErrEmpty)) {
				t.Errorf("%s on an empty index: %v, %v", name, res, err)
			}
		})
	}
	return Cases{
		"Index.Add": func(t *testing.T) {
			x := newIndex(t, n)
			for vn, v := range hostileVectors() {
				Must(t, "Add of a "+vn+" vector", x.Add(12345, v), wantFor(vn))
			}
			Must(t, "Add of a present ID", x.Add(ids[3], q), nearkit.ErrDuplicateID)
			if x.Len() != n {
				t.Errorf("refused Adds changed Len to %d", x.Len())
			}
			Must(t, "Add of ID 0", x.Add(0, q), nil)
			// A finite vector whose squared norm overflows float32.
			huge := make([]float32, Dim)
			for i := range huge {
				huge[i] = -5e18
			}
			Bounded(t, "Add of an overflowing-norm vector", func() {
				if err := x.Add(777, huge); err != nil && !errors.Is(err, nearkit.ErrInvalidVector) {
					t.Errorf("Add of an overflowing-norm vector: %v", err)
				}
			})
			if x.Metric().Normalizes() {
				res, err := x.Search(nil, []float32{-1, -1, -1, -1, -1, -1, -1, -1}, 1, nearkit.SearchOptions{})
				Calls++
				if err != nil || len(res) != 1 || res[0].ID != 777 || math.IsInf(float64(res[0].Distance), 0) || res[0].Distance < -1e-3 {
					t.Errorf("overflowing-norm vector not found by its direction: %v %v", res, err)
				}
			}
		},
		"Index.AddBatch": func(t *testing.T) {
			x := newIndex(t, 0)
			Must(t, "AddBatch of 2 IDs and 1 vector", x.AddBatch(ctx, ids[:2], vecs[:Dim]), nearkit.ErrDimension)
			Must(t, "AddBatch of 1 ID and a short vector", x.AddBatch(ctx, ids[:1], vecs[:Dim-1]), nearkit.ErrDimension)
			Must(t, "AddBatch of vectors without IDs", x.AddBatch(ctx, nil, vecs[:Dim]), nearkit.ErrDimension)
			bad := append(vecs[:2*Dim:2*Dim], hostileVectors()["NaN"]...)
			Must(t, "AddBatch with a NaN vector", x.AddBatch(ctx, ids[:3], bad), nearkit.ErrInvalidVector)
			Must(t, "AddBatch with an ID twice", x.AddBatch(ctx, []uint64{5, 5}, vecs[:2*Dim]), nearkit.ErrDuplicateID)
			Must(t, "AddBatch cancelled", x.AddBatch(cancelled, ids, vecs), context.Canceled)
			Bounded(t, "AddBatch of nothing", func() {
				if err := x.AddBatch(ctx, nil, nil); err != nil && !errors.Is(err, nearkit.ErrEmpty) {
					t.Errorf("AddBatch of nothing: %v", err)
				}
			})
			y := newIndex(t, n)
			Must(t, "AddBatch of a present ID", y.AddBatch(ctx, ids[5:6], q), nearkit.ErrDuplicateID)
		},
		"Index.Search": func(t *testing.T) {
			search(t, "Search", func(x nearkit.Index, q []float32, k int, o nearkit.SearchOptions) ([]nearkit.Result, error) {
				return x.Search(nil, q, k, o)
			})
		},
		"Index.SearchWithStats": func(t *testing.T) {
			search(t, "SearchWithStats", func(x nearkit.Index, q []float32, k int, o nearkit.SearchOptions) ([]nearkit.Result, error) {
				s, ok := x.(nearkit.StatsSearcher)
				if !ok {
					t.Fatal("no SearchWithStats")
				}
				return s.SearchWithStats(nil, q, k, o, nil) // a nil *SearchStats is allowed
			})
		},
		"Index.SearchBatch": func(t *testing.T) {
			search(t, "SearchBatch", func(x nearkit.Index, q []float32, k int, o nearkit.SearchOptions) ([]nearkit.Result, error) {
				if len(q) == 0 {
					// No queries is no answers, not an error; ask for
					// the dimension check with a ragged batch instead.
					q = make([]float32, Dim+3)
				}
				res, err := x.SearchBatch(ctx, append(q[:len(q):len(q)], q...), k, o)
				if err != nil {
					return nil, err
				}
				if len(res) != 2 {
					t.Errorf("SearchBatch of 2 queries: %d answers", len(res))
					return nil, nil
				}
				return res[1], nil
			})
			x := shared(t, n)
			_, err := x.SearchBatch(cancelled, vecs, 10, nearkit.SearchOptions{})
			Must(t, "SearchBatch cancelled", err, context.Canceled)
			Bounded(t, "SearchBatch of no queries", func() {
				if res, err := x.SearchBatch(ctx, nil, 10, nearkit.SearchOptions{}); len(res) != 0 || err != nil && !errors.Is(err, nearkit.ErrEmpty) {
					t.Errorf("SearchBatch of no queries: %v, %v", res, err)
				}
			})
		},
		"Index.Delete": func(t *testing.T) {
			x := newIndex(t, n)
			Must(t, "Delete of an unknown ID", x.Delete(12345), nearkit.ErrUnknownID)
			Must(t, "Delete of ID 0", x.Delete(0), nearkit.ErrUnknownID)
			Must(t, "Delete of the ID MaxUint64", x.Delete(ids[0]), nil)
			Must(t, "Delete twice", x.Delete(ids[0]), nearkit.ErrUnknownID)
			Must(t, "Delete on an empty index", newIndex(t, 0).Delete(1), nearkit.ErrUnknownID)
			if x.Len() != n-1 {
				t.Errorf("Len %d after one delete of %d", x.Len(), n)
			}
		},
		// The accessors take no arguments; Index.Len's case calls all of
		// them on an empty and a full index.
		"Index.Len":         func(t *testing.T) { sizes(t, shared) },
		"Index.Dim":         nil,
		"Index.Metric":      nil,
		"Index.MemoryUsage": nil,
		"Index.WriteTo": func(t *testing.T) {
			for _, m := range []int{0, n} {
				x := shared(t, m)
				size, err := x.WriteTo(io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				for _, after := range []int64{0, 13, size / 2, size - 4, size - 1} {
					w := &failingWriter{after: after}
					Calls++
					if _, err := x.WriteTo(w); !errors.Is(err, errWrite) {
						t.Errorf("WriteTo a writer failing after %d bytes: %v", after, err)
					}
				}
			}
		},
	}
}

// sizes checks the accessors on an empty and a full index.
func sizes(t *testing.T, index NewIndex) {
	for _, m := range []int{0, 100} {
		x := index(t, m)
		Calls++
		if x.Len() != m || x.Dim() != Dim || !x.Metric().Valid() || x.MemoryUsage() < 0 {
			t.Errorf("%d vectors: Len %d, Dim %d, Metric %v, MemoryUsage %d", m, x.Len(), x.Dim(), x.Metric(), x.MemoryUsage())
		}
	}
}

var errWrite = errors.New("attack: write refused")

// failingWriter accepts after bytes, then fails every write.
type failingWriter struct{ after, n int64 }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) <= w.after {
		w.n += int64(len(p))
		return len(p), nil
	}
	k := int(w.after - w.n)
	w.n = w.after
	return k, errWrite
}
