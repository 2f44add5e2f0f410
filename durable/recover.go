package durable

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nearkit/nearkit"
)

// Recovery reports what Open found in the directory and did about it.
//
// The rules:
//   - The newest snapshot that verifies (header and payload checksums, and
//     the State's Restore) is loaded; a newer one that is damaged (an error
//     wrapping nearkit.ErrCorrupt) is renamed to *.damaged, reported in
//     Damaged, and the next older one is tried. Any other error (such as
//     nearkit.ErrIncompatible from a State opened with other parameters)
//     fails Open and leaves the directory untouched.
//   - The log records after the snapshot's LSN are replayed in order. Their
//     LSNs must run on without a gap, across segments too: a gap is a
//     missing segment and Open fails with an error wrapping
//     nearkit.ErrCorrupt.
//   - Damage in the last segment after which no intact frame follows is a
//     torn tail (a write cut short by a crash; none of it was
//     acknowledged under SyncAlways): the segment is truncated at the last
//     intact frame and the bytes dropped are reported in TornBytes.
//   - Any other damage (a checksum mismatch with intact frames after it, a
//     damaged segment that is not the last) is corruption in the middle of
//     the log: Open fails with an error wrapping nearkit.ErrCorrupt naming
//     the file and offset. Records are never silently skipped.
//   - A snapshot newer than the log (it covers records the log no longer
//     holds, as when segments were deleted by hand or the directory was
//     restored from an older copy of the log) is trusted: a snapshot is
//     written only after every record it covers is durable, so it holds
//     them. SnapshotAhead reports it, and the log resumes after the
//     snapshot's LSN.
type Recovery struct {
	// Snapshot is the file name of the snapshot loaded ("" when none) and
	// SnapshotLSN the last record it covers.
	Snapshot    string
	SnapshotLSN uint64
	// Damaged lists snapshots that failed to load, with their errors.
	Damaged []error
	// Replayed is the number of log records applied after the snapshot;
	// LastLSN the newest record recovered.
	Replayed int64
	LastLSN  uint64
	// TornBytes is the number of bytes cut from the torn tail of the last
	// segment, TornSegment that segment's name, and TornReason why.
	TornBytes   int64
	TornSegment string
	TornReason  error
	// SnapshotAhead reports a snapshot newer than the log (see above).
	SnapshotAhead bool
	// Duration is how long recovery took.
	Duration time.Duration
}

type segFile struct {
	first uint64
	name  string
	size  int64
}

// recover loads the newest valid snapshot, replays the log after it and
// starts a new active segment.
func (s *Store) recover(ctx context.Context) error {
	start := time.Now()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("durable: %w", err)
	}
	var snaps []uint64
	var segs []segFile
	for _, e := range entries {
		name := e.Name()
		var n uint64
		switch {
		case strings.HasPrefix(name, ".snap-") && strings.Contains(name, ".tmp-"):
			// A checkpoint that died before its rename.
			os.Remove(filepath.Join(s.dir, name))
		case parseName(name, "snap-%016x.nks", &n) && name == snapshotName(n):
			snaps = append(snaps, n)
		case parseName(name, "wal-%016x.log", &n) && name == segmentName(n):
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("durable: %w", err)
			}
			segs = append(segs, segFile{first: n, name: name, size: info.Size()})
		}
	}
	slices.Sort(snaps)
	slices.SortFunc(segs, func(a, b segFile) int { return compareU64(a.first, b.first) })

	base, loaded := uint64(0), false
	for i := len(snaps) - 1; i >= 0; i-- {
		name := snapshotName(snaps[i])
		if err := s.loadSnapshot(name, snaps[i]); err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) {
				// Not damage (a snapshot of another kind of state, an I/O
				// error): the directory is left as it is.
				return fmt.Errorf("durable: %s: %w", name, err)
			}
			s.rec.Damaged = append(s.rec.Damaged, fmt.Errorf("%s: %w", name, err))
			os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, name+".damaged"))
			continue
		}
		base, loaded = snaps[i], true
		s.rec.Snapshot, s.rec.SnapshotLSN = name, base
		s.snapLSN = base
		for j := i - 1; j >= 0; j-- {
			s.prevLSN = snaps[j]
			break
		}
		break
	}
	if !loaded {
		if len(snaps) > 0 && (len(segs) == 0 || segs[0].first != 1) {
			return fmt.Errorf("%w: durable: no snapshot in %s loads (%v) and the log does not reach back to its start", nearkit.ErrCorrupt, s.dir, errors.Join(s.rec.Damaged...))
		}
		if err := s.state.Restore(nil); err != nil {
			return fmt.Errorf("durable: %w", err)
		}
	}

	next, err := s.replay(ctx, segs, base)
	if err != nil {
		return err
	}
	s.last = next - 1
	s.written, s.synced = s.last, s.last
	s.rec.LastLSN = s.last

	// Keep the segments that still matter and start a fresh one.
	first := s.last + 1
	for _, g := range segs {
		if g.first >= first {
			// Empty (or emptied by the tail cut): replaced below.
			continue
		}
		s.segs = append(s.segs, segment{first: g.first, size: g.size})
	}
	if n := len(s.segs); n > 0 {
		if tail := s.rec.TornSegment; tail == segmentName(s.segs[n-1].first) {
			s.segs[n-1].size -= s.rec.TornBytes
		}
	}
	f, err := createSegment(s.dir, first)
	if err != nil {
		return err
	}
	if err := datasync(f); err != nil {
		f.Close()
		return fmt.Errorf("durable: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("durable: %w", err)
	}
	s.f = f
	s.segs = append(s.segs, segment{first: first, size: segHeaderSize})
	for _, g := range s.segs[:len(s.segs)-1] {
		if g.first > base {
			s.sinceBytes += g.size - segHeaderSize
		}
	}
	s.sinceRecords = s.rec.Replayed
	if s.rec.SnapshotAhead {
		// The log before the snapshot is of no use any more.
		s.removeObsolete(s.dropSegmentsLocked(base), s.prevLSN)
	}
	s.rec.Duration = time.Since(start)
	return nil
}

func parseName(name, format string, n *uint64) bool {
	_, err := fmt.Sscanf(name, format, n)
	return err == nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadSnapshot verifies and restores one snapshot file.
func (s *Store) loadSnapshot(name string, lsn uint64) error {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var h [snapHeaderSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return fmt.Errorf("%w: snapshot header: %v", nearkit.ErrCorrupt, err)
	}
	if string(h[:8]) != snapMagic {
		return fmt.Errorf("%w: not a snapshot", nearkit.ErrIncompatible)
	}
	if binary.LittleEndian.Uint32(h[28:]) != crc32.Checksum(h[:28], castagnoli) {
		return fmt.Errorf("%w: snapshot header checksum", nearkit.ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != snapVersion {
		return fmt.Errorf("%w: snapshot version %d, want %d", nearkit.ErrIncompatible, v, snapVersion)
	}
	if got := binary.LittleEndian.Uint64(h[12:]); got != lsn {
		return fmt.Errorf("%w: snapshot says LSN %d, its name %d", nearkit.ErrCorrupt, got, lsn)
	}
	n := binary.LittleEndian.Uint64(h[20:])
	if n != uint64(info.Size())-snapHeaderSize-4 || info.Size() < snapHeaderSize+4 {
		return fmt.Errorf("%w: snapshot holds %d payload bytes, the file %d", nearkit.ErrCorrupt, n, info.Size())
	}
	cr := &crcReader{r: io.LimitReader(br, int64(n))}
	rerr := s.state.Restore(cr)
	// Whatever the state did not read still counts for the checksum, which
	// decides whether a failed Restore met damage.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	var t [4]byte
	if _, err := io.ReadFull(br, t[:]); err != nil {
		return fmt.Errorf("%w: snapshot checksum: %v", nearkit.ErrCorrupt, err)
	}
	if binary.LittleEndian.Uint32(t[:]) != cr.crc {
		return fmt.Errorf("%w: snapshot payload checksum mismatch", nearkit.ErrCorrupt)
	}
	return rerr
}

type crcReader struct {
	r   io.Reader
	crc uint32
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	return n, err
}

// replay applies the records after base and returns the LSN the log goes
// on with. It cuts a torn tail off the last segment.
func (s *Store) replay(ctx context.Context, segs []segFile, base uint64) (uint64, error) {
	next := base + 1
	// The segment holding base+1: the last one starting at or before it.
	start := -1
	for i, g := range segs {
		if g.first <= next {
			start = i
		}
	}
	if start < 0 {
		if len(segs) > 0 {
			return 0, fmt.Errorf("%w: durable: missing log segment: the snapshot covers up to LSN %d but the log resumes at %d (%s)", nearkit.ErrCorrupt, base, segs[0].first, segs[0].name)
		}
		if base > 0 {
			s.rec.SnapshotAhead = true
		}
		return next, nil
	}
	for i := start; i < len(segs); i++ {
		g := segs[i]
		if g.first > next {
			return 0, fmt.Errorf("%w: durable: missing log segment: records %d to %d are absent (%s starts at %d)", nearkit.ErrCorrupt, next, g.first-1, g.name, g.first)
		}
		if i > start && g.first < next {
			return 0, fmt.Errorf("%w: durable: log segment %s starts at LSN %d, inside the previous segment (which ends at %d)", nearkit.ErrCorrupt, g.name, g.first, next-1)
		}
		last := i == len(segs)-1
		end, err := s.replaySegment(ctx, g, next, last)
		if err != nil {
			return 0, err
		}
		if end < base && last {
			s.rec.SnapshotAhead = true
		}
		next = max(next, end+1)
	}
	return next, nil
}

// replaySegment applies the records of one segment from LSN next on and
// returns the LSN of its last intact record (its first LSN - 1 when it has
// none).
func (s *Store) replaySegment(ctx context.Context, g segFile, next uint64, last bool) (uint64, error) {
	path := filepath.Join(s.dir, g.name)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("durable: %w", err)
	}
	defer f.Close()
	sr, err := newSegmentReader(bufio.NewReaderSize(f, 1<<20), g.size)
	if err != nil {
		if errors.Is(err, errTorn) && last && !s.validAfter(f, g, 0, next-1) {
			// A segment created just before a crash, its header torn.
			s.tornTail(f, g, 0, err)
			return g.first - 1, nil
		}
		return 0, fmt.Errorf("%w: durable: log segment %s: %v", nearkit.ErrCorrupt, g.name, err)
	}
	if sr.first != g.first {
		return 0, fmt.Errorf("%w: durable: log segment %s says it starts at LSN %d", nearkit.ErrCorrupt, g.name, sr.first)
	}
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		off := sr.off
		lsn, p, err := sr.Next()
		if err == io.EOF {
			return sr.next - 1, nil
		}
		if err != nil {
			if !last {
				return 0, fmt.Errorf("%w: durable: log segment %s (not the last) is damaged: %v", nearkit.ErrCorrupt, g.name, err)
			}
			if s.validAfter(f, g, off, sr.next-1) {
				return 0, fmt.Errorf("%w: durable: log segment %s is damaged in the middle (%v) with intact records after the damage; refusing to drop them", nearkit.ErrCorrupt, g.name, err)
			}
			s.tornTail(f, g, off, err)
			return sr.next - 1, nil
		}
		if lsn < next {
			continue // covered by the snapshot
		}
		if err := s.state.Replay(p); err != nil {
			return 0, fmt.Errorf("durable: replay of record %d (%s): %w", lsn, g.name, err)
		}
		s.rec.Replayed++
		next = lsn + 1
	}
}

// validAfter reports whether an intact frame with an LSN above after lies
// in the segment beyond off.
func (s *Store) validAfter(f *os.File, g segFile, off int64, after uint64) bool {
	rest := make([]byte, max(g.size-off, 0))
	n, _ := f.ReadAt(rest, off)
	return scanValidAfter(rest[:n], after)
}

// tornTail cuts the last segment at off.
func (s *Store) tornTail(f *os.File, g segFile, off int64, why error) {
	s.rec.TornBytes = g.size - off
	s.rec.TornSegment = g.name
	s.rec.TornReason = why
	if off == 0 {
		f.Close()
		os.Remove(filepath.Join(s.dir, g.name))
		return
	}
	f.Truncate(off)
	f.Sync()
}
