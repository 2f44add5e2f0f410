package durable

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nearkit/nearkit"
)

// Recovery reports what Open found in the directory and did about it.
//
// The rules:
//   - The newest snapshot that verifies is loaded: its manifest's checksum,
//     LSN and data file name, the data file's size and CRC-32C, and the
//     State's Restore (for a version-1 file, its header and payload
//     checksums). A newer one that is damaged (an error wrapping
//     nearkit.ErrCorrupt: a torn or altered manifest, a data file missing,
//     cut short, extended or altered) is reported in Damaged, and the next
//     older one is tried. Falling back rather than refusing is safe when
//     it loses no record, and Open checks that it does not. Checkpoint
//     keeps the log after the previous snapshot, so the older snapshot
//     and that log normally rebuild the same state; but the damaged
//     snapshot's LSN proves that every record up to it was durable, so
//     when the log after the older snapshot does not reach that LSN (its
//     later segments deleted, damage in the last segment before it — not
//     a torn tail, since a crash cannot tear what was fsynced — or a
//     gap), Open fails with an error wrapping nearkit.ErrCorrupt rather
//     than start from less, and leaves the damaged files where they are.
//     Only an Open that succeeds renames them to *.damaged. Any other
//     error (such as nearkit.ErrIncompatible from a State opened with
//     other parameters, or a manifest of a newer version) fails Open and
//     leaves the snapshot untouched.
//   - A data file without a manifest is the leftover of a checkpoint cut
//     short between its two files (the manifest is written only once the
//     data file is durable, and the log is trimmed only after that): it is
//     never loaded, and removed once Open has succeeded.
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
	// Snapshot is the file name of the snapshot loaded (its data file, or
	// a version-1 file; "" when none) and SnapshotLSN the last record it
	// covers.
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
	var snaps snapFiles
	var segs []segFile
	for _, e := range entries {
		name := e.Name()
		var n uint64
		switch {
		case isSnapTemp(name):
			// A checkpoint that died before its rename.
			os.Remove(filepath.Join(s.dir, name))
		case snaps.add(name):
		case parseName(name, "wal-%016x.log", &n) && name == segmentName(n):
			info, err := e.Info()
			if err != nil {
				return fmt.Errorf("durable: %w", err)
			}
			segs = append(segs, segFile{first: n, name: name, size: info.Size()})
		}
	}
	snaps.sort()
	slices.SortFunc(segs, func(a, b segFile) int { return compareU64(a.first, b.first) })

	base, loaded := uint64(0), false
	// damaged are the snapshots newer than the one loaded that failed to
	// verify: set aside only once recovery has succeeded without them.
	var damaged []snapRef
	for i, ref := range snaps.snaps {
		name := ref.name()
		if err := s.loadSnapshot(ref); err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) {
				// Not damage (a snapshot of another kind of state, a newer
				// format, an I/O error): the directory is left as it is.
				return fmt.Errorf("durable: %s: %w", name, err)
			}
			s.rec.Damaged = append(s.rec.Damaged, fmt.Errorf("%s: %w", name, err))
			damaged = append(damaged, ref)
			// Its records were durable when it was written: the log must
			// still hold them for a fallback to lose nothing.
			s.mustReach = max(s.mustReach, ref.lsn)
			continue
		}
		base, loaded = ref.lsn, true
		s.rec.Snapshot, s.rec.SnapshotLSN = name, base
		s.snapLSN = base
		if ref.kind == snapV2 {
			s.snapName = name
		}
		for _, older := range snaps.snaps[i+1:] {
			if older.lsn < base {
				s.prevLSN = older.lsn
				break
			}
		}
		break
	}
	if !loaded {
		if len(snaps.snaps) > 0 && (len(segs) == 0 || segs[0].first != 1) {
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
	if s.last < s.mustReach {
		// The log ends before a damaged snapshot's LSN (its later segments
		// deleted or lost): the records between are in no intact file.
		return fmt.Errorf("%w: durable: the damaged snapshot at LSN %d (%v) covers records up to %d, but the log ends at %d: records %d to %d would be lost; refusing", nearkit.ErrCorrupt, s.mustReach, errors.Join(s.rec.Damaged...), s.mustReach, s.last, s.last+1, s.mustReach)
	}
	for _, ref := range damaged {
		s.setAside(ref)
	}
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
	// Data files without a manifest are what checkpoints killed between
	// their two files left: never loaded, removed only now that recovery
	// has succeeded without them.
	orphans := false
	for _, lsn := range snaps.data {
		if !slices.ContainsFunc(snaps.snaps, func(r snapRef) bool { return r.lsn == lsn && r.kind == snapV2 }) {
			os.Remove(filepath.Join(s.dir, dataName(lsn)))
			orphans = true
		}
	}
	if orphans {
		syncDir(s.dir)
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
			if err := s.checkTornAt(g, g.first-1, err); err != nil {
				return 0, err
			}
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
			if err := s.checkTornAt(g, sr.next-1, err); err != nil {
				return 0, err
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

// checkTornAt refuses to take damage after LSN end in segment g for a
// torn tail when a damaged snapshot's LSN says records beyond end were
// durable: a crash cannot tear what was fsynced, so that is corruption.
func (s *Store) checkTornAt(g segFile, end uint64, why error) error {
	if end >= s.mustReach {
		return nil
	}
	return fmt.Errorf("%w: durable: log segment %s is damaged after LSN %d (%v), but a snapshot at LSN %d (damaged: %v) shows that records up to it were durable; refusing to cut them", nearkit.ErrCorrupt, g.name, end, why, s.mustReach, errors.Join(s.rec.Damaged...))
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
