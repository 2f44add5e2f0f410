package flat

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error or a clamped correct answer within an allocation bound, never a
// panic. A new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	before := attack.Calls
	for _, metric := range []distance.Metric{distance.L2, distance.Cosine, distance.InnerProduct} {
		t.Run(metric.String(), func(t *testing.T) {
			newIndex := func(t *testing.T, n int) *Index {
				x, err := New(Config{Dim: attack.Dim, Metric: metric})
				if err != nil {
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
			for name, c := range flatCases(newIndex) {
				cases[name] = c
			}
			cases.Run(t, ".")
		})
	}
	t.Logf("%d hostile calls", attack.Calls-before)
}

func flatCases(newIndex func(t *testing.T, n int) *Index) attack.Cases {
	const n = 100
	ids := attack.IDs(n)
	return attack.Cases{
		"New": func(t *testing.T) {
			for _, cfg := range []Config{{}, {Dim: -1}, {Dim: maxDim + 1}, {Dim: 8, Metric: 200}} {
				_, err := New(cfg)
				attack.Must(t, "New with a bad config", err, nearkit.ErrInvalidConfig)
			}
		},
		"Index.Vector": func(t *testing.T) {
			x := newIndex(t, n)
			attack.Calls += 3
			if v, ok := x.Vector(12345); ok || v != nil {
				t.Errorf("Vector of an unknown ID: %v %v", v, ok)
			}
			if v, ok := x.Vector(ids[0]); !ok || len(v) != attack.Dim {
				t.Errorf("Vector of MaxUint64: %v %v", v, ok)
			}
			if _, ok := newIndex(t, 0).Vector(0); ok {
				t.Error("Vector of an empty index")
			}
		},
		"Index.All": func(t *testing.T) {
			attack.Calls += 2
			for range newIndex(t, 0).All() {
				t.Error("All of an empty index yields")
			}
			seen := 0
			for range newIndex(t, n).All() {
				if seen++; seen == 3 {
					break // stopping early must not panic
				}
			}
		},
		"Index.Save": func(t *testing.T) {
			dir := t.TempDir()
			attack.Must(t, "Save into a missing directory", newIndex(t, n).Save(filepath.Join(dir, "no", "x")), os.ErrNotExist)
			attack.Calls++
			if err := newIndex(t, n).Save(dir); err == nil {
				t.Error("Save over a directory: no error")
			}
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
			_, err = Read(bytes.NewReader(nil))
			attack.Must(t, "Read of nothing", err, nearkit.ErrCorrupt)
		},
	}
}
