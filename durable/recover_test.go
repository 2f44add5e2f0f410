package durable

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
)

// addFrame is the size of one Add frame of a testDim vector: the frame
// header and op, id and vector.
const addFrame = frameHeader + 1 + 8 + 4*testDim

// fill opens a flat durable index in dir, adds n vectors (ids 0..n-1) and
// closes it, returning what it added.
func fill(t testing.TB, dir string, opts Options, n int) model {
	t.Helper()
	x, err := OpenIndex(context.Background(), dir, flatConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	m := addN(t, x, 0, n)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	return m
}

func addN(t testing.TB, x *Index, from, n int) model {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(from), 9))
	m := model{}
	for i := from; i < from+n; i++ {
		v := randVec(rng)
		if err := x.Add(uint64(i), v); err != nil {
			t.Fatal(err)
		}
		m[uint64(i)] = v
	}
	return m
}

// segments lists the directory's log segments, oldest first.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func reopen(t *testing.T, dir string, opts Options) *Index {
	t.Helper()
	x, err := OpenIndex(context.Background(), dir, flatConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func TestTornTail(t *testing.T) {
	for _, tc := range []struct {
		name string
		// damage changes the last non-empty segment and returns the bytes
		// recovery must drop and the number of records it loses.
		damage func(t *testing.T, path string) (dropped int64, lost int)
	}{
		{"cut-in-frame", func(t *testing.T, path string) (int64, int) {
			size := fileSize(t, path)
			if err := os.Truncate(path, size-5); err != nil {
				t.Fatal(err)
			}
			return addFrame - 5, 1
		}},
		{"cut-in-header", func(t *testing.T, path string) (int64, int) {
			size := fileSize(t, path)
			if err := os.Truncate(path, size-addFrame+7); err != nil {
				t.Fatal(err)
			}
			return 7, 1
		}},
		{"zeros-after", func(t *testing.T, path string) (int64, int) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 3000)); err != nil {
				t.Fatal(err)
			}
			return 3000, 0
		}},
		{"last-frame-garbled", func(t *testing.T, path string) (int64, int) {
			flipByte(t, path, fileSize(t, path)-3)
			return addFrame, 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			const n = 100
			m := fill(t, dir, Options{Sync: SyncNever}, n)
			segs := segments(t, dir)
			// Close leaves an empty active segment behind the records;
			// the records are in the one before it.
			path := segs[len(segs)-1]
			if fileSize(t, path) == segHeaderSize {
				os.Remove(path)
				path = segs[len(segs)-2]
			}
			dropped, lost := tc.damage(t, path)
			x := reopen(t, dir, Options{Sync: SyncNever})
			rec := x.Recovery()
			if rec.TornBytes != dropped || rec.TornSegment != filepath.Base(path) || rec.TornReason == nil {
				t.Fatalf("recovery %+v, want %d torn bytes in %s", rec, dropped, filepath.Base(path))
			}
			if x.Len() != n-lost || rec.LastLSN != uint64(n-lost) {
				t.Fatalf("recovered %d records (last LSN %d), want %d", x.Len(), rec.LastLSN, n-lost)
			}
			for id := n - lost; id < n; id++ {
				delete(m, uint64(id))
			}
			checkFlat(t, x, m)
			// The log goes on after the cut, and a second reopen finds it
			// whole.
			for id, v := range addN(t, x, 1000, 10) {
				m[id] = v
			}
			x.Close()
			y := reopen(t, dir, Options{Sync: SyncNever})
			if r := y.Recovery(); r.TornBytes != 0 {
				t.Fatalf("second recovery cut %d bytes", r.TornBytes)
			}
			checkFlat(t, y, m)
		})
	}
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x10
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptMidLog(t *testing.T) {
	opts := Options{Sync: SyncNever, SegmentBytes: 40 * addFrame}
	for _, tc := range []struct {
		name  string
		which func(segs []string) string // the segment to damage
	}{
		{"last-segment", func(segs []string) string { return segs[len(segs)-2] }},
		{"earlier-segment", func(segs []string) string { return segs[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, opts, 200)
			segs := segments(t, dir)
			if len(segs) < 3 {
				t.Fatalf("want several segments, have %v", segs)
			}
			path := tc.which(segs)
			// A bit in the payload of the fourth frame.
			off := int64(segHeaderSize + 3*addFrame + frameHeader + 4)
			flipByte(t, path, off)
			sizes := map[string]int64{}
			for _, s := range segs {
				sizes[s] = fileSize(t, s)
			}
			_, err := OpenIndex(context.Background(), dir, flatConfig(opts))
			if !errors.Is(err, nearkit.ErrCorrupt) || !strings.Contains(err.Error(), filepath.Base(path)) {
				t.Fatalf("open: %v, want ErrCorrupt naming %s", err, filepath.Base(path))
			}
			// Nothing was cut or removed: the damage is left for a human.
			for _, s := range segs {
				if got := fileSize(t, s); got != sizes[s] {
					t.Fatalf("%s changed size: %d, was %d", s, got, sizes[s])
				}
			}
			// The directory is not left locked.
			if _, err := OpenIndex(context.Background(), dir, flatConfig(opts)); errors.Is(err, ErrLocked) {
				t.Fatal("failed open left the directory locked")
			}
		})
	}
}

func TestMissingSegment(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, SegmentBytes: 40 * addFrame}
	fill(t, dir, opts, 200)
	segs := segments(t, dir)
	if len(segs) < 4 {
		t.Fatalf("want several segments, have %v", segs)
	}
	os.Remove(segs[1])
	_, err := OpenIndex(context.Background(), dir, flatConfig(opts))
	if !errors.Is(err, nearkit.ErrCorrupt) || !strings.Contains(err.Error(), "missing log segment") {
		t.Fatalf("open: %v, want ErrCorrupt for a missing segment", err)
	}

	// The first segment gone and no snapshot: the log does not start at 1.
	dir = t.TempDir()
	fill(t, dir, opts, 200)
	os.Remove(segments(t, dir)[0])
	if _, err := OpenIndex(context.Background(), dir, flatConfig(opts)); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("open without the first segment: %v, want ErrCorrupt", err)
	}
}

func TestSnapshotAheadOfLog(t *testing.T) {
	ctx := context.Background()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	for _, tc := range []struct {
		name string
		// prepare turns the directory's log into one that ends before the
		// snapshot, given a copy of the log taken before the checkpoint.
		prepare func(t *testing.T, dir string, old map[string][]byte)
	}{
		{"log-deleted", func(t *testing.T, dir string, _ map[string][]byte) {
			for _, s := range segments(t, dir) {
				os.Remove(s)
			}
		}},
		{"older-log-restored", func(t *testing.T, dir string, old map[string][]byte) {
			for _, s := range segments(t, dir) {
				os.Remove(s)
			}
			for name, b := range old {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			x, err := OpenIndex(ctx, dir, flatConfig(opts))
			if err != nil {
				t.Fatal(err)
			}
			m := addN(t, x, 0, 50)
			x.Sync()
			old := map[string][]byte{}
			for _, s := range segments(t, dir) {
				b, _ := os.ReadFile(s)
				old[filepath.Base(s)] = b
			}
			for id, v := range addN(t, x, 50, 30) {
				m[id] = v
			}
			if err := x.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			x.Close()
			tc.prepare(t, dir, old)

			y := reopen(t, dir, opts)
			rec := y.Recovery()
			if !rec.SnapshotAhead || rec.SnapshotLSN != 80 || rec.LastLSN != 80 || rec.Replayed != 0 {
				t.Fatalf("recovery %+v, want the snapshot at 80 ahead of the log", rec)
			}
			checkFlat(t, y, m)
			// The log resumes after the snapshot.
			for id, v := range addN(t, y, 100, 20) {
				m[id] = v
			}
			y.Close()
			z := reopen(t, dir, opts)
			if r := z.Recovery(); r.SnapshotAhead || r.Replayed != 20 || r.LastLSN != 100 {
				t.Fatalf("second recovery %+v", r)
			}
			checkFlat(t, z, m)
		})
	}
}

func TestDamagedSnapshotFallsBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	x, err := OpenIndex(ctx, dir, flatConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	m := addN(t, x, 0, 40)
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for id, v := range addN(t, x, 40, 40) {
		m[id] = v
	}
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for id, v := range addN(t, x, 80, 10) {
		m[id] = v
	}
	x.Close()
	newest := filepath.Join(dir, dataName(80))
	flipByte(t, newest, 100)

	y := reopen(t, dir, opts)
	rec := y.Recovery()
	if rec.SnapshotLSN != 40 || len(rec.Damaged) != 1 || !errors.Is(rec.Damaged[0], nearkit.ErrCorrupt) || rec.Replayed != 50 {
		t.Fatalf("recovery %+v, want the snapshot at 40 and 50 records replayed", rec)
	}
	for _, name := range []string{dataName(80), manifestName(80)} {
		if _, err := os.Stat(filepath.Join(dir, name+".damaged")); err != nil {
			t.Fatalf("damaged snapshot not set aside: %v", err)
		}
	}
	checkFlat(t, y, m)
}

func TestIncompatibleSnapshotLeavesDirectory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := OpenIndex(ctx, dir, flatConfig(Options{Sync: SyncNever}))
	if err != nil {
		t.Fatal(err)
	}
	addN(t, x, 0, 10)
	x.Checkpoint(ctx)
	x.Close()
	// An hnsw reader cannot read a flat snapshot: not damage, so Open
	// fails and the snapshot stays.
	if _, err := OpenIndex(ctx, dir, hnswConfig(Options{})); err == nil || errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("open with another index type: %v", err)
	}
	for _, name := range []string{dataName(10), manifestName(10)} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("snapshot gone after a refused open: %v", err)
		}
	}
}
