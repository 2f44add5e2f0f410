package durable_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
)

// An HNSW index whose writes survive a crash: every Add is in the log
// before it returns, and reopening the directory replays what the last
// checkpoint does not hold.
func ExampleOpenIndex() {
	dir, err := os.MkdirTemp("", "durable-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := durable.Config{
		New:     func() (nearkit.Index, error) { return hnsw.New(hnsw.Config{Dim: 3, Seed: 1}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
		Options: durable.Options{Sync: durable.SyncAlways},
	}
	ctx := context.Background()
	x, err := durable.OpenIndex(ctx, dir, cfg)
	if err != nil {
		log.Fatal(err)
	}
	x.Add(1, []float32{1, 0, 0})
	x.Add(2, []float32{0, 1, 0})
	if err := x.Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}
	x.Add(3, []float32{0, 0, 1})
	x.Close() // or a crash: Add 3 was durable when it returned

	y, err := durable.OpenIndex(ctx, dir, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer y.Close()
	rec := y.Recovery()
	fmt.Println("vectors:", y.Len(), "from snapshot at LSN", rec.SnapshotLSN, "+", rec.Replayed, "replayed")
	res, _ := y.Search(nil, []float32{0, 0.1, 0.9}, 1, nearkit.SearchOptions{})
	fmt.Println("nearest:", res[0].ID)
	// Output:
	// vectors: 3 from snapshot at LSN 2 + 1 replayed
	// nearest: 3
}

// A checkpoint's data file is the index's own file: a read-only server
// memory-maps it with hnsw.Open and searches it in place, while the
// durable index goes on taking writes.
func ExampleIndex_Snapshot() {
	dir, err := os.MkdirTemp("", "durable-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := durable.Config{
		New:     func() (nearkit.Index, error) { return hnsw.New(hnsw.Config{Dim: 3, Seed: 1}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
		Options: durable.Options{Sync: durable.SyncAlways},
	}
	ctx := context.Background()
	x, err := durable.OpenIndex(ctx, dir, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer x.Close()
	x.Add(1, []float32{1, 0, 0})
	x.Add(2, []float32{0, 1, 0})
	if err := x.Checkpoint(ctx); err != nil {
		log.Fatal(err)
	}
	x.Add(3, []float32{0, 0, 1}) // in the log, not in the snapshot

	path, lsn, ok := x.Snapshot()
	if !ok {
		log.Fatal("no snapshot")
	}
	m, err := hnsw.Open(path, hnsw.OpenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	res, _ := m.Search(nil, []float32{0, 0.1, 0.9}, 1, nearkit.SearchOptions{})
	fmt.Println("snapshot at LSN", lsn, "holds", m.Len(), "vectors; nearest:", res[0].ID)
	// Output:
	// snapshot at LSN 2 holds 2 vectors; nearest: 2
}
