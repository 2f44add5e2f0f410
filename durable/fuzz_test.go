package durable

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit"
)

// validSegment returns the bytes of a segment holding n Add records.
func validSegment(t testing.TB, n int) []byte {
	var b []byte
	b = append(b, segmentHeader(1)...)
	rec := make([]byte, 1+8+4*testDim)
	for i := range n {
		rec[1] = byte(i)
		rec[0] = opAdd
		b = appendFrame(b, uint64(i+1), payloadCRC(rec), rec)
	}
	return b
}

// FuzzSegmentReader feeds arbitrary bytes to the segment reader: it must
// return records, io.EOF or an error, never panic, never allocate more
// than the input holds, and never return a record whose checksum fails.
func FuzzSegmentReader(f *testing.F) {
	f.Add(validSegment(f, 3))
	f.Add(validSegment(f, 1)[:30])
	f.Add([]byte(segMagic))
	b := validSegment(f, 4)
	b[segHeaderSize+2] = 0xff // a huge length
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newSegmentReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatalf("header error %v wraps neither errTorn nor ErrIncompatible", err)
			}
			return
		}
		want := r.first
		for {
			lsn, p, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, errTorn) {
					t.Fatalf("frame error %v does not wrap errTorn", err)
				}
				return
			}
			if lsn != want || len(p) > len(data) {
				t.Fatalf("record %d (want %d) of %d bytes from %d", lsn, want, len(p), len(data))
			}
			want++
		}
	})
}

// FuzzRecover opens a directory whose last segment and newest snapshot's
// manifest and data file are arbitrary bytes: Open must succeed or fail
// with an error, never panic, and what it recovers is at most what was
// written.
func FuzzRecover(f *testing.F) {
	seed := f.TempDir()
	fill(f, seed, Options{Sync: SyncNever, CheckpointBytes: -1}, 20)
	x, err := OpenIndex(context.Background(), seed, flatConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
	if err != nil {
		f.Fatal(err)
	}
	x.Checkpoint(context.Background())
	addN(f, x, 20, 5)
	x.Close()
	segs := segments(f, seed)
	seg, _ := os.ReadFile(segs[len(segs)-2])
	man, _ := os.ReadFile(filepath.Join(seed, manifestName(20)))
	data, _ := os.ReadFile(filepath.Join(seed, dataName(20)))
	f.Add(seg, man, data)
	f.Add(seg[:len(seg)-3], man, data[:len(data)-1])
	f.Add(seg, man[:len(man)-1], data)
	f.Add([]byte{}, []byte(manifestMagic), []byte{})
	f.Fuzz(func(t *testing.T, seg, man, data []byte) {
		dir := t.TempDir()
		// A snapshot at LSN 20 and a segment that resumes after it.
		for name, b := range map[string][]byte{manifestName(20): man, dataName(20): data, segmentName(21): seg} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		x, err := OpenIndex(context.Background(), dir, flatConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
		if err != nil {
			return
		}
		defer x.Close()
		if x.Len() > 25+len(seg)/addFrame {
			t.Fatalf("recovered %d vectors from %d log bytes", x.Len(), len(seg))
		}
	})
}

// FuzzRecoverV1 is FuzzRecover with a version-1 snapshot file.
func FuzzRecoverV1(f *testing.F) {
	seed := f.TempDir()
	fill(f, seed, Options{Sync: SyncNever, CheckpointBytes: -1}, 20)
	x, err := OpenIndex(context.Background(), seed, flatConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
	if err != nil {
		f.Fatal(err)
	}
	x.Checkpoint(context.Background())
	addN(f, x, 20, 5)
	x.Close()
	segs := segments(f, seed)
	seg, _ := os.ReadFile(segs[len(segs)-2])
	data, _ := os.ReadFile(filepath.Join(seed, dataName(20)))
	snap := v1Snapshot(20, data)
	f.Add(seg, snap)
	f.Add(seg[:len(seg)-3], snap[:len(snap)-1])
	f.Add([]byte{}, []byte(snapV1Magic))
	f.Fuzz(func(t *testing.T, seg, snap []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, snapV1Name(20)), snap, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, segmentName(21)), seg, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := OpenIndex(context.Background(), dir, flatConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
		if err != nil {
			return
		}
		defer x.Close()
		if x.Len() > 25+len(seg)/addFrame {
			t.Fatalf("recovered %d vectors from %d log bytes", x.Len(), len(seg))
		}
	})
}
