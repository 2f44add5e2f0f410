package durable

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
)

const testDim = 8

func flatConfig(opts Options) Config {
	return Config{
		New:     func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: testDim, Metric: distance.L2}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) },
		Options: opts,
	}
}

func hnswConfig(opts Options) Config {
	return Config{
		New:     func() (nearkit.Index, error) { return hnsw.New(hnsw.Config{Dim: testDim, Seed: 1}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
		Options: opts,
	}
}

func randVec(rng *rand.Rand) []float32 {
	v := make([]float32, testDim)
	for i := range v {
		v[i] = rng.Float32()
	}
	return v
}

// model is the expected content of an index.
type model map[uint64][]float32

// checkFlat verifies that a flat index holds exactly m.
func checkFlat(t testing.TB, x *Index, m model) {
	t.Helper()
	f := x.Unwrap().(*flat.Index)
	if f.Len() != len(m) {
		t.Fatalf("index holds %d vectors, want %d", f.Len(), len(m))
	}
	for id, want := range m {
		got, ok := f.Vector(id)
		if !ok || !slices.Equal(got, want) {
			t.Fatalf("id %d: got %v (%v), want %v", id, got, ok, want)
		}
	}
}

func TestIndexReopen(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"flat", "hnsw"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := flatConfig(Options{})
			if name == "hnsw" {
				cfg = hnswConfig(Options{})
			}
			x, err := OpenIndex(ctx, dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			m := model{}
			for i := range uint64(200) {
				v := randVec(rng)
				if err := x.Add(i, v); err != nil {
					t.Fatal(err)
				}
				m[i] = v
			}
			if err := x.Add(3, randVec(rng)); !errors.Is(err, nearkit.ErrDuplicateID) {
				t.Fatalf("duplicate add: %v", err)
			}
			if err := x.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			ids := []uint64{1000, 1001, 1002}
			vecs := slices.Concat(randVec(rng), randVec(rng), randVec(rng))
			if err := x.AddBatch(ctx, ids, vecs); err != nil {
				t.Fatal(err)
			}
			for i, id := range ids {
				m[id] = vecs[i*testDim : (i+1)*testDim]
			}
			for i := uint64(0); i < 50; i++ {
				if err := x.Delete(i * 2); err != nil {
					t.Fatal(err)
				}
				delete(m, i*2)
			}
			if err := x.Delete(0); !errors.Is(err, nearkit.ErrUnknownID) {
				t.Fatalf("delete of a deleted id: %v", err)
			}
			for i := uint64(1); i < 40; i += 2 {
				v := randVec(rng)
				if err := x.Update(i, v); err != nil {
					t.Fatal(err)
				}
				m[i] = v
			}
			if err := x.Update(0, randVec(rng)); !errors.Is(err, nearkit.ErrUnknownID) {
				t.Fatalf("update of a deleted id: %v", err)
			}
			if err := x.Close(); err != nil {
				t.Fatal(err)
			}

			y, err := OpenIndex(ctx, dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			rec := y.Recovery()
			if rec.Snapshot == "" || rec.Replayed == 0 || rec.TornBytes != 0 {
				t.Fatalf("recovery %+v", rec)
			}
			if y.Len() != len(m) {
				t.Fatalf("reopened index holds %d, want %d", y.Len(), len(m))
			}
			if name == "flat" {
				checkFlat(t, y, m)
			}
			for id, v := range m {
				res, err := y.Search(nil, v, 1, nearkit.SearchOptions{})
				if err != nil || len(res) != 1 || res[0].Distance != 0 {
					t.Fatalf("search for %d: %v %v", id, res, err)
				}
			}
		})
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	x, err := OpenIndex(context.Background(), dir, flatConfig(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if _, err := OpenIndex(context.Background(), dir, flatConfig(Options{})); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}
