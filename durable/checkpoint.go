package durable

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nearkit/nearkit"
)

// Snapshot format, all little-endian. A snapshot file is named
// snap-<LSN as 16 hex digits>.nks and holds
//
//	[8]byte "NKSNAP\0\0", u32 version (1), u64 LSN, u64 payload length n,
//	u32 CRC-32C of the 28 bytes before it,
//	n bytes: the State's WriteTo output,
//	u32 CRC-32C of the payload.
//
// LSN is the last record the snapshot covers. The payload starts at byte
// 32, so a payload whose own format wants 32- or 64-byte alignment for
// memory mapping keeps it when the payload's sections are aligned relative
// to the payload's start plus 32.
const (
	snapMagic      = "NKSNAP\x00\x00"
	snapVersion    = 1
	snapHeaderSize = 32
)

// snapshotFile is the io.WriterTo nearkit.SaveFile writes: the header, the
// payload taken in memory, its checksum. It checks ctx between chunks.
type snapshotFile struct {
	ctx   context.Context
	lsn   uint64
	parts []*chunks // the payload, in order
}

func (f snapshotFile) WriteTo(w io.Writer) (int64, error) {
	h := make([]byte, 0, snapHeaderSize)
	h = append(h, snapMagic...)
	h = binary.LittleEndian.AppendUint32(h, snapVersion)
	h = binary.LittleEndian.AppendUint64(h, f.lsn)
	size := int64(0)
	for _, p := range f.parts {
		size += p.Len()
	}
	h = binary.LittleEndian.AppendUint64(h, uint64(size))
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	n, err := w.Write(h)
	total := int64(n)
	if err != nil {
		return total, err
	}
	crc := uint32(0)
	for _, p := range f.parts {
		err = p.each(func(c []byte) error {
			if err := f.ctx.Err(); err != nil {
				return err
			}
			crc = crc32.Update(crc, castagnoli, c)
			n, err := w.Write(c)
			total += int64(n)
			return err
		})
		if err != nil {
			return total, err
		}
	}
	n, err = w.Write(binary.LittleEndian.AppendUint32(nil, crc))
	return total + int64(n), err
}

// Checkpoint writes a snapshot of the state and removes the log segments
// and snapshots it makes obsolete, so recovery replays only what follows.
//
// Writers are held off only while the state writes its snapshot into
// memory, or, for a Capturer, the part of it that it cannot capture
// otherwise (and while the active segment is flushed and a new one
// started): that is the consistent point, where every record up to the
// snapshot's LSN is applied and none after it is. The memory is reserved
// and its pages touched before the pause, at the size the last pause
// wrote, so the pause costs only the copying. A Capturer's captured part
// is written once commits resume, and the snapshot then to its file
// crash-safely (nearkit.SaveFile: temporary file, fsync, rename,
// directory fsync) while commits go on into the new segment. The price is
// memory: the snapshot is held in memory until it is on disk. Stats
// reports the pause (LastCheckpointPause) beside the whole duration.
//
// The newest two snapshots are kept with the log after the older one, so
// a snapshot found damaged on Open can be replaced by its predecessor and
// the log. A checkpoint with nothing new since the last one does nothing.
// ctx cancels the writing of the file (the old snapshot stays in force).
func (s *Store) Checkpoint(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	start := time.Now()

	s.mu.Lock()
	hint := s.lastPausedBytes
	if hint == 0 {
		// No snapshot yet: the log holds the whole state, which is about
		// the size of its records.
		hint = s.sinceBytes
	}
	s.mu.Unlock()
	// Sized like the last snapshot and its pages mapped before the pause,
	// so that writing this one inside it costs only the copying.
	var buf chunks
	buf.reserve(min(hint+hint/8, 1<<34))
	// Sync next, outside the pause, so that the fsync inside it covers
	// only what is appended meanwhile.
	s.mu.Lock()
	if !s.closed {
		s.syncLocked()
	}
	s.mu.Unlock()

	// Writers are held off from here: a waiting Lock stops new commits.
	pauseStart := time.Now()
	s.gate.Lock()
	s.mu.Lock()
	s.ckWant = false
	if s.closed {
		s.mu.Unlock()
		s.gate.Unlock()
		return ErrClosed
	}
	lsn := s.last
	if lsn == s.snapLSN {
		s.mu.Unlock()
		s.gate.Unlock()
		return nil
	}
	// Everything up to lsn goes to disk and the log moves on to a segment
	// that starts after it.
	err := s.syncLocked()
	if err == nil {
		s.rotateLocked()
		err = s.err
	}
	since, sinceBytes := s.sinceRecords, s.sinceBytes
	s.sinceRecords, s.sinceBytes = 0, 0
	s.mu.Unlock()
	var head io.WriterTo
	if err == nil {
		if c, ok := s.state.(Capturer); ok {
			head, err = c.Capture(&buf)
		} else {
			_, err = s.state.WriteTo(&buf)
		}
	}
	s.gate.Unlock()
	pause := time.Since(pauseStart)

	parts := []*chunks{&buf}
	if err == nil && head != nil {
		var hb chunks
		if _, err = head.WriteTo(&hb); err == nil {
			parts = []*chunks{&hb, &buf}
		}
	}
	if err == nil {
		err = nearkit.SaveFile(filepath.Join(s.dir, snapshotName(lsn)), snapshotFile{ctx: ctx, lsn: lsn, parts: parts})
	}
	if err != nil {
		s.mu.Lock()
		s.sinceRecords += since
		s.sinceBytes += sinceBytes
		s.mu.Unlock()
		return fmt.Errorf("durable: checkpoint: %w", err)
	}

	s.mu.Lock()
	s.prevLSN, s.snapLSN = s.snapLSN, lsn
	// The log after the previous snapshot stays as the fallback for this
	// one (with no previous snapshot, the whole log does).
	var obsolete []string
	if s.prevLSN > 0 {
		obsolete = s.dropSegmentsLocked(s.prevLSN)
	}
	keep := s.prevLSN
	s.stats.Checkpoints++
	s.stats.LastCheckpoint = time.Now()
	s.stats.LastCheckpointDuration = time.Since(start)
	s.stats.LastCheckpointPause = pause
	s.stats.LastCheckpointBytes = 0
	for _, p := range parts {
		s.stats.LastCheckpointBytes += p.Len()
	}
	s.lastPausedBytes = buf.Len()
	s.mu.Unlock()
	s.removeObsolete(obsolete, keep)
	return nil
}

// snapshotsOnDisk lists the LSNs of the snapshot files in the directory.
func (s *Store) snapshotsOnDisk() []uint64 {
	entries, _ := os.ReadDir(s.dir)
	var lsns []uint64
	for _, e := range entries {
		var lsn uint64
		if _, err := fmt.Sscanf(e.Name(), "snap-%016x.nks", &lsn); err == nil && e.Name() == snapshotName(lsn) {
			lsns = append(lsns, lsn)
		}
	}
	return lsns
}

// dropSegmentsLocked removes from s.segs the segments whose records all
// have LSNs ≤ upto and returns their names. The active segment is never
// dropped. The caller holds mu.
func (s *Store) dropSegmentsLocked(upto uint64) []string {
	var names []string
	i := 0
	for i+1 < len(s.segs) && s.segs[i+1].first <= upto+1 {
		names = append(names, segmentName(s.segs[i].first))
		i++
	}
	s.segs = s.segs[i:]
	return names
}

// removeObsolete deletes the given segments and every snapshot older than
// keep.
func (s *Store) removeObsolete(segs []string, keep uint64) {
	for _, name := range segs {
		os.Remove(filepath.Join(s.dir, name))
	}
	for _, lsn := range s.snapshotsOnDisk() {
		if lsn < keep {
			os.Remove(filepath.Join(s.dir, snapshotName(lsn)))
		}
	}
	syncDir(s.dir)
}

// checkpointLoop runs automatic checkpoints: when the log since the last
// one outgrows CheckpointBytes (append signals wake) or CheckpointInterval
// has passed with records committed.
func (s *Store) checkpointLoop() {
	var tick <-chan time.Time
	if d := s.opts.CheckpointInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-tick:
			s.mu.Lock()
			idle := s.sinceRecords == 0 || time.Since(s.stats.LastCheckpoint) < s.opts.CheckpointInterval/2
			s.mu.Unlock()
			if idle {
				continue
			}
		}
		err := s.Checkpoint(context.Background())
		s.mu.Lock()
		s.stats.LastCheckpointError = err
		s.mu.Unlock()
	}
}
