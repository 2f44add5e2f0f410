package durable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/internal/attack"
)

// v1Snapshot wraps payload in the version-1 snapshot format an earlier
// release wrote (snap-<LSN>.nks), written here independently of the
// reader so a reader that drifted from the format fails the tests.
func v1Snapshot(lsn uint64, payload []byte) []byte {
	b := []byte("NKSNAP\x00\x00")
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint64(b, lsn)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(payload)))
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
}

// exists reports whether dir/name exists.
func exists(t *testing.T, dir, name string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(dir, name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestSnapshotIsIndexFile checks that a checkpoint's data file is the
// index's own file, byte for byte, that hnsw.Open maps it and answers as
// the live index does, and that Snapshot follows the checkpoints.
func TestSnapshotIsIndexFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	x, err := OpenIndex(ctx, dir, hnswConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if p, _, ok := x.Snapshot(); ok {
		t.Fatalf("Snapshot %q before any checkpoint", p)
	}
	addN(t, x, 0, 300)
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	path, lsn, ok := x.Snapshot()
	if !ok || lsn != 300 || filepath.Base(path) != dataName(300) {
		t.Fatalf("Snapshot = %q, %d, %v; want %s at 300", path, lsn, ok, dataName(300))
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if _, err := x.Unwrap().WriteTo(&want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("data file of %d bytes differs from the index's WriteTo (%d bytes)", len(got), want.Len())
	}
	m, err := hnsw.Open(path, hnsw.OpenOptions{VerifyChecksum: true})
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skip("hnsw.Open needs a Unix system")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	q := make([]float32, testDim)
	for i := range q {
		q[i] = 0.5
	}
	live, err := x.Search(nil, q, 10, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := m.Search(nil, q, 10, nearkit.SearchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(live, mapped) {
		t.Fatalf("mapped snapshot answers %v, the live index %v", mapped, live)
	}

	// The mapped file survives the checkpoints that replace it.
	addN(t, x, 300, 10)
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if p, lsn, _ := x.Snapshot(); lsn != 310 || filepath.Base(p) != dataName(310) {
		t.Fatalf("Snapshot after a second checkpoint: %q at %d", p, lsn)
	}
	addN(t, x, 310, 10)
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if exists(t, dir, dataName(300)) || exists(t, dir, manifestName(300)) || !exists(t, dir, dataName(310)) {
		t.Fatal("checkpoints did not keep exactly the newest two snapshots")
	}
	if again, err := m.Search(nil, q, 10, nearkit.SearchOptions{}); err != nil || !slices.Equal(again, mapped) {
		t.Fatalf("mapped snapshot after its removal: %v, %v", again, err)
	}
}

// TestSnapshotIsFlatFile: a flat index's snapshot loads with flat.Load.
func TestSnapshotIsFlatFile(t *testing.T) {
	ctx := context.Background()
	x, err := OpenIndex(ctx, t.TempDir(), flatConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	m := addN(t, x, 0, 50)
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	path, _, _ := x.Snapshot()
	f, err := flat.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range m {
		if got, ok := f.Vector(id); !ok || !slices.Equal(got, want) {
			t.Fatalf("id %d: %v, want %v", id, got, want)
		}
	}
}

// toV1 rewrites the directory's version-2 snapshot at lsn as the
// version-1 file an earlier release would have written.
func toV1(t *testing.T, dir string, lsn uint64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, dataName(lsn)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapV1Name(lsn)), v1Snapshot(lsn, data), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, manifestName(lsn)))
	os.Remove(filepath.Join(dir, dataName(lsn)))
}

// TestV1DirectoryOpens opens a directory whose snapshots are in the
// version-1 format, then checks that checkpoints move it to version 2.
func TestV1DirectoryOpens(t *testing.T) {
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
	for id, v := range addN(t, x, 40, 20) {
		m[id] = v
	}
	if err := x.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for id, v := range addN(t, x, 60, 5) {
		m[id] = v
	}
	x.Close()
	toV1(t, dir, 40)
	toV1(t, dir, 60)

	y := reopen(t, dir, opts)
	if r := y.Recovery(); r.Snapshot != snapV1Name(60) || r.SnapshotLSN != 60 || r.Replayed != 5 || len(r.Damaged) != 0 {
		t.Fatalf("recovery %+v, want %s and 5 replayed", r, snapV1Name(60))
	}
	checkFlat(t, y, m)
	if p, _, ok := y.Snapshot(); ok {
		t.Fatalf("Snapshot offers the version-1 file %q", p)
	}
	// A damaged version-1 snapshot falls back to the older one as before.
	y.Close()
	flipByte(t, filepath.Join(dir, snapV1Name(60)), snapV1HeaderSize+10)
	y = reopen(t, dir, opts)
	if r := y.Recovery(); r.SnapshotLSN != 40 || r.Replayed != 25 || len(r.Damaged) != 1 || !errors.Is(r.Damaged[0], nearkit.ErrCorrupt) {
		t.Fatalf("recovery %+v, want the fallback to 40", r)
	}
	checkFlat(t, y, m)

	// A checkpoint writes version 2; a second with nothing new does
	// nothing.
	if err := y.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := y.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, lsn, ok := y.Snapshot(); !ok || lsn != 65 {
		t.Fatalf("after the checkpoint Snapshot is at %d (%v), want 65", lsn, ok)
	}
	if st := y.Stats(); st.Checkpoints != 1 {
		t.Fatalf("%d checkpoints, want 1: a second with nothing new does nothing", st.Checkpoints)
	}
	y.Close()
	z := reopen(t, dir, opts)
	if r := z.Recovery(); r.Snapshot != dataName(65) || r.Replayed != 0 {
		t.Fatalf("recovery %+v, want %s", r, dataName(65))
	}
	checkFlat(t, z, m)

	// Two more checkpoints remove the version-1 file like any older one.
	addN(t, z, 100, 3)
	z.Checkpoint(ctx)
	addN(t, z, 200, 3)
	z.Checkpoint(ctx)
	if exists(t, dir, snapV1Name(40)) || exists(t, dir, dataName(65)) {
		t.Fatal("old snapshots left after two checkpoints")
	}
}

// TestV1UpgradeAtSameLSN: a version-1 snapshot covering everything is
// rewritten as version 2 by a checkpoint with nothing new, and the next
// Open prefers it.
func TestV1UpgradeAtSameLSN(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	x, err := OpenIndex(ctx, dir, flatConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	m := addN(t, x, 0, 30)
	x.Checkpoint(ctx)
	x.Close()
	toV1(t, dir, 30)
	segsBefore := segments(t, dir)

	y := reopen(t, dir, opts)
	if err := y.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if p, lsn, ok := y.Snapshot(); !ok || lsn != 30 || filepath.Base(p) != dataName(30) {
		t.Fatalf("Snapshot %q at %d (%v), want %s", p, lsn, ok, dataName(30))
	}
	if got := segments(t, dir); !slices.Equal(got, segsBefore) {
		t.Fatalf("an upgrade checkpoint changed the log: %v, was %v", got, segsBefore)
	}
	y.Close()
	z := reopen(t, dir, opts)
	if r := z.Recovery(); r.Snapshot != dataName(30) {
		t.Fatalf("recovery %+v, want the version-2 snapshot", r)
	}
	checkFlat(t, z, m)
}

// twoSnapshots writes snapshots at 40 and 80 and 10 records after them,
// and returns what the index holds.
func twoSnapshots(t *testing.T, dir string, opts Options) model {
	ctx := context.Background()
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
	return m
}

func truncateFile(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotDamage damages the newest snapshot's manifest or data file
// in the ways a disk or a hand can: Open falls back to the older snapshot
// and the log after it, reports the damage and sets the files aside.
func TestSnapshotDamage(t *testing.T) {
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, dir string)
	}{
		{"manifest-torn", func(t *testing.T, dir string) { truncateFile(t, filepath.Join(dir, manifestName(80)), 20) }},
		{"manifest-empty", func(t *testing.T, dir string) { truncateFile(t, filepath.Join(dir, manifestName(80)), 0) }},
		{"manifest-flipped", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, manifestName(80)), 25) }},
		{"data-missing", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, dataName(80))) }},
		{"data-truncated", func(t *testing.T, dir string) {
			p := filepath.Join(dir, dataName(80))
			truncateFile(t, p, fileSize(t, p)/2)
		}},
		{"data-extended", func(t *testing.T, dir string) {
			f, err := os.OpenFile(filepath.Join(dir, dataName(80)), os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write([]byte{0})
			f.Close()
		}},
		{"data-flipped", func(t *testing.T, dir string) { flipByte(t, filepath.Join(dir, dataName(80)), 60) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			m := twoSnapshots(t, dir, opts)
			tc.damage(t, dir)
			y := reopen(t, dir, opts)
			rec := y.Recovery()
			if rec.SnapshotLSN != 40 || len(rec.Damaged) != 1 || !errors.Is(rec.Damaged[0], nearkit.ErrCorrupt) || rec.Replayed != 50 {
				t.Fatalf("recovery %+v, want the snapshot at 40 and 50 records replayed", rec)
			}
			checkFlat(t, y, m)
			if !exists(t, dir, manifestName(80)+".damaged") || exists(t, dir, manifestName(80)) {
				t.Fatal("damaged manifest not set aside")
			}
			if p, lsn, ok := y.Snapshot(); !ok || lsn != 40 || filepath.Base(p) != dataName(40) {
				t.Fatalf("Snapshot %q at %d, want the fallback", p, lsn)
			}
		})
	}
}

// TestSnapshotDamageWithoutFallback: when every snapshot is damaged and
// the log before them is gone, Open refuses rather than start empty.
func TestSnapshotDamageWithoutFallback(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	twoSnapshots(t, dir, opts)
	flipByte(t, filepath.Join(dir, dataName(80)), 60)
	truncateFile(t, filepath.Join(dir, manifestName(40)), 3)
	_, err := OpenIndex(context.Background(), dir, flatConfig(opts))
	if !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("open with every snapshot damaged and the log cut: %v", err)
	}
}

// TestOrphanDataFile: a data file without its manifest is what a crash
// between a checkpoint's two files leaves; Open ignores it and removes
// it, with the temporary files of a crash before a rename.
func TestOrphanDataFile(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	m := twoSnapshots(t, dir, opts)
	// A checkpoint at 90 that died after its data file: a copy of 80's
	// data would load wrongly (it lacks 81..90) if it were trusted.
	data, err := os.ReadFile(filepath.Join(dir, dataName(80)))
	if err != nil {
		t.Fatal(err)
	}
	orphans := []string{dataName(90), "." + manifestName(90) + ".tmp-1-x"}
	for _, name := range orphans {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	y := reopen(t, dir, opts)
	if r := y.Recovery(); r.SnapshotLSN != 80 || r.Replayed != 10 || len(r.Damaged) != 0 {
		t.Fatalf("recovery %+v, want the snapshot at 80", r)
	}
	checkFlat(t, y, m)
	for _, name := range orphans {
		if exists(t, dir, name) {
			t.Fatalf("%s left after Open", name)
		}
	}
}

// TestOrphanKeptOnRefusedOpen: Open removes leftovers only once recovery
// has succeeded, so a refused Open leaves the directory as it found it.
func TestOrphanKeptOnRefusedOpen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	twoSnapshots(t, dir, opts)
	os.Rename(filepath.Join(dir, dataName(80)), filepath.Join(dir, dataName(85)))
	segs := segments(t, dir)
	os.Remove(segs[0]) // the log after 40: no fallback
	if _, err := OpenIndex(context.Background(), dir, flatConfig(opts)); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("open: %v", err)
	}
	if !exists(t, dir, dataName(85)) {
		t.Fatal("a refused Open removed a data file")
	}
}

// TestManifestHostile feeds the manifest reader every truncation and bit
// flip of a valid manifest: each is refused, never accepted or a panic.
func TestManifestHostile(t *testing.T) {
	var buf bytes.Buffer
	manifest{lsn: 77, size: 1234, crc: 0xdeadbeef, data: dataName(77)}.WriteTo(&buf)
	read := func(r io.Reader) error {
		_, err := readManifest(r, 77)
		return err
	}
	attack.Stream(t, read, buf.Bytes(), attack.Budget{}, 200, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
	// The wrong LSN and a name pointing elsewhere, with valid checksums.
	if _, err := readManifest(bytes.NewReader(buf.Bytes()), 78); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("manifest of another LSN: %v", err)
	}
	buf.Reset()
	manifest{lsn: 77, size: 1, data: "../snap-000000000000004d.data"}.WriteTo(&buf)
	if _, err := readManifest(bytes.NewReader(buf.Bytes()), 77); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("manifest naming a path elsewhere: %v", err)
	}
	// A long stream is cut at the bound, not read whole.
	long := io.MultiReader(bytes.NewReader(buf.Bytes()), bytes.NewReader(make([]byte, 1<<20)))
	if _, err := readManifest(long, 77); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("oversized manifest: %v", err)
	}
}

// TestFallbackNeedsTheLog: a fallback past a damaged snapshot must reach
// the damaged snapshot's LSN in the log, since every record up to it was
// durable. When the log after the older snapshot stops short, Open
// refuses and changes nothing: no *.damaged rename, no tail cut.
func TestFallbackNeedsTheLog(t *testing.T) {
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	for _, tc := range []struct {
		name string
		cut  func(t *testing.T, dir string, segs []string)
	}{
		{"later-segments-deleted", func(t *testing.T, dir string, segs []string) {
			// wal-41 holds 41..80: cut it short and remove the rest, so
			// its damaged end looks like a torn tail at LSN < 80.
			for _, s := range segs[1:] {
				os.Remove(s)
			}
			truncateFile(t, segs[0], fileSize(t, segs[0])-int64(addFrame)*5-7)
		}},
		{"middle-segment-lost", func(t *testing.T, dir string, segs []string) {
			os.Remove(segs[0])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			twoSnapshots(t, dir, opts)
			flipByte(t, filepath.Join(dir, dataName(80)), 60)
			segs := segments(t, dir)
			if filepath.Base(segs[0]) != segmentName(41) {
				t.Fatalf("segments %v, want the log from 41 on", segs)
			}
			tc.cut(t, dir, segs)
			before := map[string]int64{}
			for _, s := range segments(t, dir) {
				before[s] = fileSize(t, s)
			}
			_, err := OpenIndex(context.Background(), dir, flatConfig(opts))
			if !errors.Is(err, nearkit.ErrCorrupt) {
				t.Fatalf("open with the log short of the damaged snapshot: %v", err)
			}
			if !exists(t, dir, dataName(80)) || !exists(t, dir, manifestName(80)) {
				t.Fatal("a refused Open set the damaged snapshot aside")
			}
			for s, n := range before {
				if got := fileSize(t, s); got != n {
					t.Fatalf("a refused Open cut %s from %d to %d bytes", filepath.Base(s), n, got)
				}
			}
		})
	}
	// With the log intact up to 80 the fallback goes ahead.
	dir := t.TempDir()
	m := twoSnapshots(t, dir, opts)
	flipByte(t, filepath.Join(dir, dataName(80)), 60)
	y := reopen(t, dir, opts)
	if r := y.Recovery(); r.SnapshotLSN != 40 || r.LastLSN != 90 {
		t.Fatalf("recovery %+v", r)
	}
	checkFlat(t, y, m)
}
