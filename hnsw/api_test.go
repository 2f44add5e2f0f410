package hnsw

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

// apiIndex builds an index of cfg (Dim attack.Dim) holding attack's n
// vectors, trained first when quantized.
func apiIndex(t *testing.T, cfg Config, n int) *Index {
	t.Helper()
	cfg.Dim = attack.Dim
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quantization != NoQuantization {
		if err := x.Train(context.Background(), attack.Vectors(64)); err != nil {
			t.Fatal(err)
		}
	}
	if n > 0 {
		if err := x.AddBatch(context.Background(), attack.IDs(n), attack.Vectors(n)); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error or a clamped correct answer within an allocation bound, never a
// panic. A new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	cfgs := []Config{
		{Seed: 1, M: 4},
		{Seed: 2, M: 4, Metric: distance.Cosine},
		{Seed: 3, M: 4, Quantization: SQ8},
		{Seed: 4, M: 4, Quantization: QGraph, QGraphSubspaces: 4, Metric: distance.InnerProduct},
	}
	if testing.Short() {
		cfgs = cfgs[1:3]
	}
	if raceEnabled {
		cfgs = cfgs[:1]
	}
	before := attack.Calls
	for _, cfg := range cfgs {
		t.Run(configName(cfg), func(t *testing.T) {
			newIndex := func(t *testing.T, n int) *Index { return apiIndex(t, cfg, n) }
			cases := attack.IndexCases(func(t *testing.T, n int) nearkit.Index { return newIndex(t, n) })
			for name, c := range hnswCases(newIndex) {
				cases[name] = c
			}
			cases.Run(t, ".")
			if !hostLittleEndian {
				return
			}
			// The searches again on a memory-mapped copy, which the
			// search cases share: it lives as long as this subtest.
			outer := t
			mapped := attack.IndexCases(func(t *testing.T, n int) nearkit.Index {
				path := filepath.Join(outer.TempDir(), "x.hnsw")
				if err := newIndex(t, n).Save(path); err != nil {
					t.Fatal(err)
				}
				x, err := Open(path, OpenOptions{})
				if err != nil {
					t.Fatal(err)
				}
				outer.Cleanup(func() { x.Close() })
				return x
			})
			for _, name := range []string{"Index.Search", "Index.SearchBatch", "Index.SearchWithStats"} {
				t.Run("mapped/"+name, mapped[name])
			}
		})
	}
	t.Logf("%d hostile calls", attack.Calls-before)
}

// hnswCases are the cases of the methods beyond nearkit.Index.
func hnswCases(newIndex func(t *testing.T, n int) *Index) attack.Cases {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const n = 100
	ids, vecs := attack.IDs(n), attack.Vectors(n)
	q := vecs[:attack.Dim]
	nan := make([]float32, attack.Dim)
	nan[2] = float32(math.NaN())
	closed := func(t *testing.T) *Index {
		x := newIndex(t, n)
		if err := x.Close(); err != nil {
			t.Fatal(err)
		}
		return x
	}
	return attack.Cases{
		"New": func(t *testing.T) {
			for _, cfg := range []Config{
				{}, {Dim: -1}, {Dim: MaxDim + 1}, {Dim: 8, M: -1}, {Dim: 8, M: 1}, {Dim: 8, M: MaxM + 1},
				{Dim: 8, EfSearch: -1}, {Dim: 8, EfSearch: MaxEf + 1}, {Dim: 8, EfConstruction: math.MaxInt},
				{Dim: 8, Capacity: -1}, {Dim: 8, Capacity: math.MaxInt}, {Dim: 8, Metric: 200},
				{Dim: 8, Quantization: 9}, {Dim: 8, QGraphSubspaces: 3},
			} {
				_, err := New(cfg)
				attack.Must(t, "New with a bad config", err, nearkit.ErrInvalidConfig)
			}
			// A huge Capacity is a hint: TestHostileArguments bounds its cost.
		},
		"Index.Close": func(t *testing.T) {
			x := closed(t)
			attack.Must(t, "Close twice", x.Close(), nil)
			_, err := x.Search(nil, q, 1, nearkit.SearchOptions{})
			attack.Must(t, "Search after Close", err, ErrClosed)
			attack.Must(t, "Add after Close", x.Add(1, q), ErrClosed)
			if x.Len() != 0 {
				t.Errorf("Len after Close: %d", x.Len())
			}
		},
		"Index.Config": func(t *testing.T) {
			x := newIndex(t, 0)
			if c := x.Config(); c.Dim != attack.Dim || c.fill() != nil {
				t.Errorf("Config %+v", c)
			}
			attack.Calls++
		},
		"Index.MappedBytes": func(t *testing.T) {
			attack.Calls++
			if x := closed(t); x.MappedBytes() != 0 {
				t.Errorf("MappedBytes after Close: %d", x.MappedBytes())
			}
		},
		"Index.MemoryStats": func(t *testing.T) {
			attack.Calls += 2
			if s := newIndex(t, 0).MemoryStats(); s.Vectors < 0 {
				t.Errorf("MemoryStats of an empty index: %+v", s)
			}
			closed(t).MemoryStats() // must not panic
		},
		"Index.Optimize": func(t *testing.T) {
			attack.Must(t, "Optimize cancelled", newIndex(t, n).Optimize(cancelled), context.Canceled)
			attack.Must(t, "Optimize of an empty index", newIndex(t, 0).Optimize(ctx), nil)
			attack.Must(t, "Optimize after Close", closed(t).Optimize(ctx), ErrClosed)
		},
		"Index.Train": func(t *testing.T) {
			x := newIndex(t, 0)
			for what, data := range map[string][]float32{"nil": nil, "ragged": vecs[:attack.Dim+1], "NaN": nan} {
				err := x.Train(ctx, data)
				if !errors.Is(err, nearkit.ErrInvalidConfig) && !errors.Is(err, nearkit.ErrEmpty) &&
					!errors.Is(err, nearkit.ErrDimension) && !errors.Is(err, nearkit.ErrInvalidVector) {
					t.Errorf("Train on %s data: %v", what, err)
				}
				attack.Calls++
			}
			// Trained already (or not quantized).
			attack.Must(t, "Train again", x.Train(ctx, vecs), nearkit.ErrInvalidConfig)
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
			attack.Must(t, "Update to a short vector", x.Update(ids[1], q[:3]), nearkit.ErrDimension)
			attack.Must(t, "Update to nil", x.Update(ids[1], nil), nearkit.ErrDimension)
			attack.Must(t, "Update of MaxUint64", x.Update(ids[0], q), nil)
		},
		"Index.Upsert": func(t *testing.T) {
			x := newIndex(t, n)
			attack.Must(t, "Upsert of NaN", x.Upsert(ids[1], nan), nearkit.ErrInvalidVector)
			attack.Must(t, "Upsert of nil", x.Upsert(7, nil), nearkit.ErrDimension)
			attack.Must(t, "Upsert of a new ID", x.Upsert(7, q), nil)
			attack.Must(t, "Upsert of MaxUint64", x.Upsert(ids[0], q), nil)
			if x.Len() != n+1 {
				t.Errorf("Len %d", x.Len())
			}
		},
		"Index.Vacuum": func(t *testing.T) {
			x := newIndex(t, n)
			for _, id := range ids[:n/2] {
				x.Delete(id)
			}
			_, err := x.Vacuum(cancelled)
			attack.Must(t, "Vacuum cancelled", err, context.Canceled)
			_, err = newIndex(t, 0).Vacuum(ctx)
			attack.Must(t, "Vacuum of an empty index", err, nil)
			_, err = closed(t).Vacuum(ctx)
			attack.Must(t, "Vacuum after Close", err, ErrClosed)
		},
		"Index.ReadFrom": func(t *testing.T) {
			x := newIndex(t, n)
			var buf bytes.Buffer
			x.WriteTo(&buf)
			_, err := x.ReadFrom(bytes.NewReader(buf.Bytes()))
			attack.Must(t, "ReadFrom into an index in use", err, nearkit.ErrInvalidConfig)
			_, err = new(Index).ReadFrom(bytes.NewReader(nil))
			attack.Must(t, "ReadFrom of nothing", err, nearkit.ErrCorrupt)
		},
		"Read": func(t *testing.T) {
			_, err := Read(strings.NewReader("NKFLAT\x00\x00\x01\x00\x00\x00"))
			attack.Must(t, "Read of another file type", err, nearkit.ErrIncompatible)
			_, err = Read(bytes.NewReader(nil))
			attack.Must(t, "Read of nothing", err, nearkit.ErrCorrupt)
		},
		"Index.Save": func(t *testing.T) {
			x := newIndex(t, n)
			dir := t.TempDir()
			attack.Must(t, "Save into a missing directory", x.Save(filepath.Join(dir, "no", "x")), os.ErrNotExist)
			attack.Calls++
			if err := x.Save(dir); err == nil {
				t.Error("Save over a directory: no error")
			}
			attack.Must(t, "Save after Close", closed(t).Save(filepath.Join(dir, "y")), ErrClosed)
		},
		"Load": func(t *testing.T) {
			dir := t.TempDir()
			_, err := Load(filepath.Join(dir, "missing"))
			attack.Must(t, "Load of a missing file", err, os.ErrNotExist)
			_, err = Load(dir)
			attack.Calls++
			if err == nil {
				t.Error("Load of a directory: no error")
			}
			empty := filepath.Join(dir, "empty")
			os.WriteFile(empty, nil, 0o644)
			_, err = Load(empty)
			attack.Must(t, "Load of an empty file", err, nearkit.ErrCorrupt)
		},
		"Open": func(t *testing.T) {
			dir := t.TempDir()
			_, err := Open(filepath.Join(dir, "missing"), OpenOptions{})
			attack.Must(t, "Open of a missing file", err, os.ErrNotExist)
			empty := filepath.Join(dir, "empty")
			os.WriteFile(empty, nil, 0o644)
			_, err = Open(empty, OpenOptions{})
			attack.Calls++
			if !hostLittleEndian || !errors.Is(err, nearkit.ErrCorrupt) {
				if err == nil {
					t.Error("Open of an empty file: no error")
				}
			}
			_, err = Open(dir, OpenOptions{VerifyChecksum: true})
			attack.Calls++
			if err == nil {
				t.Error("Open of a directory: no error")
			}
			// Every writing method of a mapped index is refused.
			path := filepath.Join(dir, "x")
			newIndex(t, n).Save(path)
			x, err := Open(path, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			attack.Must(t, "Add to a mapped index", x.Add(1, q), nearkit.ErrReadOnly)
			attack.Must(t, "AddBatch to a mapped index", x.AddBatch(ctx, ids[:1], q), nearkit.ErrReadOnly)
			attack.Must(t, "Delete from a mapped index", x.Delete(ids[0]), nearkit.ErrReadOnly)
			attack.Must(t, "Update of a mapped index", x.Update(ids[0], q), nearkit.ErrReadOnly)
			attack.Must(t, "Upsert into a mapped index", x.Upsert(1, q), nearkit.ErrReadOnly)
			attack.Must(t, "Optimize of a mapped index", x.Optimize(ctx), nearkit.ErrReadOnly)
			if err := x.Train(ctx, vecs); !errors.Is(err, nearkit.ErrReadOnly) && !errors.Is(err, nearkit.ErrInvalidConfig) {
				t.Errorf("Train of a mapped index: %v", err)
			}
			attack.Calls++
			_, err = x.Vacuum(ctx)
			attack.Must(t, "Vacuum of a mapped index", err, nearkit.ErrReadOnly)
		},
		"Quantization.String": func(t *testing.T) {
			attack.Calls++
			if s := Quantization(200).String(); s == "" {
				t.Error("empty name for an unknown quantization")
			}
		},
	}
}
