package ivf

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error or a clamped correct answer within an allocation bound, never a
// panic. A new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	cfgs := []Config{
		{Encoding: Flat},
		{Encoding: SQ8},
		{Encoding: PQ, M: 4, KeepVectors: true},
		{Encoding: PQFastScan, M: 4},
	}
	if testing.Short() {
		cfgs = cfgs[1:2] // SQ8: cheap to train, codes and re-ranking all the same
	}
	before := attack.Calls
	for _, cfg := range cfgs {
		t.Run(cfg.Encoding.String(), func(t *testing.T) {
			newIndex := func(t *testing.T, n int) *Index {
				c := cfg
				c.Dim, c.NList, c.Seed = attack.Dim, 4, 1
				x, err := New(c)
				if err != nil {
					t.Fatal(err)
				}
				if err := x.Train(context.Background(), attack.Vectors(256)); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					if err := x.AddBatch(context.Background(), attack.IDs(n), attack.Vectors(n)); err != nil {
						t.Fatal(err)
					}
				}
				return x
			}
			cases := attack.IndexCases(func(t *testing.T, n int) nearkit.Index { return newIndex(t, n) })
			for name, c := range ivfCases(newIndex) {
				cases[name] = c
			}
			cases.Run(t, ".")
		})
	}
	t.Logf("%d hostile calls", attack.Calls-before)
}

func ivfCases(newIndex func(t *testing.T, n int) *Index) attack.Cases {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const n = 100
	ids, vecs := attack.IDs(n), attack.Vectors(n)
	q := vecs[:attack.Dim]
	nan := make([]float32, attack.Dim)
	nan[1] = float32(math.NaN())
	return attack.Cases{
		"New": func(t *testing.T) {
			for _, cfg := range []Config{{}, {Dim: -1, NList: 4}, {Dim: 8, NList: -1}, {Dim: 8, NList: math.MaxInt}, {Dim: 8, NList: 4, Metric: 99},
				{Dim: 8, NList: 4, Encoding: 42}, {Dim: 8, NList: 4, Encoding: PQ, M: 3}, {Dim: 8, NList: 4, NProbe: -1}, {Dim: 8, NList: 4, Rerank: -1}} {
				_, err := New(cfg)
				attack.Must(t, "New with a bad config", err, nearkit.ErrInvalidConfig)
			}
		},
		"Index.Train": func(t *testing.T) {
			x, err := New(Config{Dim: attack.Dim, NList: 4})
			if err != nil {
				t.Fatal(err)
			}
			attack.Must(t, "Add before Train", x.Add(1, q), nearkit.ErrNotTrained)
			attack.Calls++
			if err := x.Train(ctx, nil); err == nil {
				t.Error("Train on nothing: no error")
			}
			attack.Must(t, "Train on a ragged batch", x.Train(ctx, vecs[:attack.Dim+1]), nearkit.ErrDimension)
			attack.Must(t, "Train on NaN", x.Train(ctx, nan), nearkit.ErrInvalidVector)
			attack.Must(t, "Train cancelled", x.Train(cancelled, vecs), context.Canceled)
			attack.Calls++
			if err := x.Train(ctx, vecs[:2*attack.Dim]); err == nil {
				t.Log("Train on fewer vectors than lists is accepted")
			}
		},
		"Index.Trained": func(t *testing.T) {
			attack.Calls++
			if !newIndex(t, 0).Trained() {
				t.Error("not trained")
			}
		},
		"Index.Update": func(t *testing.T) {
			x := newIndex(t, n)
			attack.Must(t, "Update of an unknown ID", x.Update(12345, q), nearkit.ErrUnknownID)
			attack.Must(t, "Update to NaN", x.Update(ids[1], nan), nearkit.ErrInvalidVector)
			attack.Must(t, "Update to nil", x.Update(ids[1], nil), nearkit.ErrDimension)
			attack.Must(t, "Update of MaxUint64", x.Update(ids[0], q), nil)
		},
		"Index.ListLen": func(t *testing.T) {
			x := newIndex(t, n)
			total := 0
			for _, i := range []int{-1, math.MinInt, 4, math.MaxInt, 0, 1, 2, 3} {
				attack.Calls++
				l := x.ListLen(i)
				if i < 0 || i >= 4 {
					if l != 0 {
						t.Errorf("ListLen(%d) = %d", i, l)
					}
				} else {
					total += l
				}
			}
			if total != n {
				t.Errorf("lists hold %d of %d", total, n)
			}
		},
		"Index.Stats": func(t *testing.T) {
			attack.Calls += 2
			if s := newIndex(t, 0).Stats(); s.Len != 0 || math.IsNaN(s.Imbalance) {
				t.Errorf("Stats of an empty index: %+v", s)
			}
			if s := newIndex(t, n).Stats(); s.Len != n {
				t.Errorf("Stats: %+v", s)
			}
		},
		"Index.Config": func(t *testing.T) {
			attack.Calls++
			if c := newIndex(t, 0).Config(); c.Dim != attack.Dim {
				t.Errorf("Config %+v", c)
			}
		},
		"Index.Encoding": func(t *testing.T) {
			attack.Calls++
			if e := newIndex(t, 0).Encoding(); e.String() == "" {
				t.Error("no encoding name")
			}
		},
		"Encoding.String": func(t *testing.T) {
			attack.Calls++
			if Encoding(200).String() == "" {
				t.Error("no name for an unknown encoding")
			}
		},
		"Index.SetVectors": func(t *testing.T) {
			x := newIndex(t, n)
			src, err := NewDenseVectors(vecs[:10*attack.Dim], attack.Dim) // fewer rows than IDs
			if err != nil {
				t.Fatal(err)
			}
			x.SetVectors(src)
			attack.Bounded(t, "Search with a vector source missing IDs", func() {
				if _, err := x.Search(nil, q, 10, nearkit.SearchOptions{Rerank: 50}); err != nil && !errors.Is(err, nearkit.ErrUnknownID) {
					t.Errorf("Search: %v", err)
				}
			})
			x.SetVectors(nil)
			attack.Bounded(t, "Search with the source unset", func() { x.Search(nil, q, 10, nearkit.SearchOptions{Rerank: 50}) })
		},
		"NewDenseVectors": func(t *testing.T) {
			_, err := NewDenseVectors(vecs[:attack.Dim+1], attack.Dim)
			attack.Must(t, "NewDenseVectors ragged", err, nearkit.ErrDimension)
			attack.Calls += 2
			if _, err := NewDenseVectors(vecs, 0); err == nil {
				t.Error("NewDenseVectors of dim 0: no error")
			}
			if _, err := NewDenseVectors(vecs, -1); err == nil {
				t.Error("NewDenseVectors of dim -1: no error")
			}
		},
		"DenseVectors.Vector": func(t *testing.T) {
			d, _ := NewDenseVectors(vecs, attack.Dim)
			for _, id := range []uint64{n, math.MaxUint64, 1 << 32} {
				attack.Calls++
				if v, ok := d.Vector(id, nil); ok || v != nil {
					t.Errorf("Vector(%d) of %d rows: %v %v", id, n, v, ok)
				}
			}
		},
		"OpenVectorFile": func(t *testing.T) {
			dir := t.TempDir()
			_, err := OpenVectorFile(filepath.Join(dir, "missing"), attack.Dim)
			attack.Must(t, "OpenVectorFile of a missing file", err, os.ErrNotExist)
			bad := filepath.Join(dir, "bad.fvecs")
			os.WriteFile(bad, []byte{8, 0, 0, 0, 1, 2}, 0o644)
			_, err = OpenVectorFile(bad, attack.Dim)
			attack.Must(t, "OpenVectorFile of a cut file", err, nearkit.ErrCorrupt)
			attack.Calls++
			if _, err := OpenVectorFile(bad, -1); err == nil {
				t.Error("OpenVectorFile of dim -1: no error")
			}
		},
		"VectorFile.Vector": func(t *testing.T) {
			f := vectorFile(t, vecs[:3*attack.Dim])
			for _, id := range []uint64{3, math.MaxUint64, 1 << 40} {
				attack.Calls++
				if v, ok := f.Vector(id, nil); ok || v != nil {
					t.Errorf("Vector(%d) of 3 rows: %v %v", id, v, ok)
				}
			}
		},
		"VectorFile.Len": func(t *testing.T) {
			attack.Calls++
			if f := vectorFile(t, vecs[:3*attack.Dim]); f.Len() != 3 {
				t.Errorf("Len %d", f.Len())
			}
		},
		"VectorFile.Close": func(t *testing.T) {
			f := vectorFile(t, vecs[:3*attack.Dim])
			attack.Must(t, "Close", f.Close(), nil)
			attack.Bounded(t, "Close twice", func() { f.Close() })
			attack.Bounded(t, "Vector after Close", func() { f.Vector(0, nil) })
		},
		"Index.Close": func(t *testing.T) {
			x := newIndex(t, n)
			attack.Must(t, "Close", x.Close(), nil)
			attack.Bounded(t, "Close twice", func() { x.Close() })
			attack.Bounded(t, "Search after Close", func() { x.Search(nil, q, 10, nearkit.SearchOptions{}) })
		},
		"Index.Save": func(t *testing.T) {
			dir := t.TempDir()
			attack.Must(t, "Save into a missing directory", newIndex(t, n).Save(filepath.Join(dir, "no", "x")), os.ErrNotExist)
		},
		"Load": func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(filepath.Join(dir, "missing"))
			attack.Must(t, "Load of a missing file", err, os.ErrNotExist)
			empty := filepath.Join(dir, "empty")
			os.WriteFile(empty, nil, 0o644)
			_, err = Load(empty)
			attack.Must(t, "Load of an empty file", err, nearkit.ErrCorrupt)
		},
		"Read": func(t *testing.T) {
			_, err := Read(bytes.NewReader([]byte("NKHNSW\x00\x00\x03\x00\x00\x00")))
			attack.Must(t, "Read of another file type", err, nearkit.ErrIncompatible)
		},
		"Open": func(t *testing.T) {
			dir := t.TempDir()
			_, err := Open(filepath.Join(dir, "missing"), OpenOptions{})
			attack.Must(t, "Open of a missing file", err, os.ErrNotExist)
			path := filepath.Join(dir, "x")
			if err := newIndex(t, n).Save(path); err != nil {
				t.Fatal(err)
			}
			x, err := Open(path, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			attack.Must(t, "Add to a mapped index", x.Add(1, q), nearkit.ErrReadOnly)
			attack.Must(t, "Delete from a mapped index", x.Delete(ids[0]), nearkit.ErrReadOnly)
			attack.Must(t, "Update of a mapped index", x.Update(ids[0], q), nearkit.ErrReadOnly)
			attack.Must(t, "Train of a mapped index", x.Train(ctx, vecs), nearkit.ErrReadOnly)
			for _, k := range []int{1 << 40, math.MaxInt} {
				attack.Bounded(t, "mapped SearchBatch huge k", func() {
					res, err := x.SearchBatch(ctx, vecs[:2*attack.Dim], k, nearkit.SearchOptions{})
					if err != nil || len(res) != 2 || len(res[0]) == 0 || len(res[0]) > n {
						t.Errorf("mapped SearchBatch k=%d: %v", k, err)
					}
				})
			}
		},
	}
}

// vectorFile writes rows (of attack.Dim) as an fvecs file and opens it.
func vectorFile(t *testing.T, rows []float32) *VectorFile {
	t.Helper()
	var b bytes.Buffer
	for i := 0; i < len(rows); i += attack.Dim {
		b.Write([]byte{attack.Dim, 0, 0, 0})
		for _, v := range rows[i : i+attack.Dim] {
			u := math.Float32bits(v)
			b.Write([]byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)})
		}
	}
	path := filepath.Join(t.TempDir(), "v.fvecs")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenVectorFile(path, attack.Dim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
