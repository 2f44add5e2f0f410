package durable

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nearkit/nearkit"
)

// Checkpoint writes a snapshot of the state and removes the log segments
// and snapshots it makes obsolete, so recovery replays only what follows.
//
// The snapshot is two files (see the formats in snapshot.go): the data
// file, exactly the bytes the state's WriteTo writes — for an Index, the
// file the index's own Save writes, which Snapshot names and hnsw.Open
// (or ivf.Open, flat.Load) opens as it is — and after it a small manifest
// holding the LSN covered and the data file's size and CRC-32C. Each is
// written crash-safely (nearkit.SaveFile: temporary file, fsync, rename,
// directory fsync), and the log it makes obsolete is removed only once
// the manifest is durable.
//
// Writers are held off only while the state writes its snapshot into
// memory, or, for a Capturer, the part of it that it cannot capture
// otherwise (and while the active segment is flushed and a new one
// started): that is the consistent point, where every record up to the
// snapshot's LSN is applied and none after it is. The memory is reserved
// and its pages touched before the pause, at the size the last pause
// wrote, so the pause costs only the copying. A Capturer's captured part
// is written once commits resume, and the snapshot then to its files
// while commits go on into the new segment. The price is memory: the
// snapshot is held in memory until it is on disk. Stats reports the pause
// (LastCheckpointPause) beside the whole duration.
//
// The newest two snapshots are kept with the log after the older one, so
// a snapshot found damaged on Open can be replaced by its predecessor and
// the log. A checkpoint with nothing new since the last one does nothing,
// unless that one is in the version-1 format of an earlier release: it is
// then written again in the current one. ctx cancels the writing of the
// files (the old snapshot stays in force).
func (s *Store) Checkpoint(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	start := time.Now()

	s.mu.Lock()
	// Both before the reservation below, which is the snapshot's size.
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, current := s.currentLocked(); current {
		s.ckWant = false
		s.mu.Unlock()
		return nil
	}
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
	upgrade, current := s.currentLocked()
	if current {
		s.mu.Unlock()
		s.gate.Unlock()
		return nil
	}
	// Everything up to lsn goes to disk and the log moves on to a segment
	// that starts after it.
	var err error
	if !upgrade {
		err = s.syncLocked()
		if err == nil {
			s.rotateLocked()
			err = s.err
		}
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
		err = s.writeSnapshot(ctx, lsn, parts)
	}
	if err != nil {
		s.mu.Lock()
		s.sinceRecords += since
		s.sinceBytes += sinceBytes
		s.mu.Unlock()
		return fmt.Errorf("durable: checkpoint: %w", err)
	}

	s.mu.Lock()
	if !upgrade {
		s.prevLSN = s.snapLSN
	}
	s.snapLSN, s.snapName = lsn, dataName(lsn)
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

// currentLocked reports whether the newest snapshot holds every record
// (current: a checkpoint has nothing to do), or holds them in the
// version-1 format (upgrade: a checkpoint rewrites it as version 2 with
// nothing new to log, so the log neither moves nor shrinks). The caller
// holds mu.
func (s *Store) currentLocked() (upgrade, current bool) {
	upgrade = s.last == s.snapLSN && s.last > 0 && s.snapName == ""
	return upgrade, s.last == s.snapLSN && !upgrade
}

// writeSnapshot writes the data file and then the manifest of the
// snapshot at lsn. A data file whose manifest could not be written is
// removed (and if that fails too, the next Open removes it).
func (s *Store) writeSnapshot(ctx context.Context, lsn uint64, parts []*chunks) error {
	data := &dataFile{ctx: ctx, parts: parts}
	path := filepath.Join(s.dir, dataName(lsn))
	if err := nearkit.SaveFile(path, data); err != nil {
		return err
	}
	m := manifest{lsn: lsn, size: data.size, crc: data.crc, data: dataName(lsn)}
	if err := nearkit.SaveFile(filepath.Join(s.dir, manifestName(lsn)), m); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// Snapshot returns the path of the newest snapshot's data file, the LSN
// of the last record it covers, and ok = false when there is none, or
// when the newest is a version-1 file of an earlier release (the next
// Checkpoint writes one). The file holds exactly what the state's WriteTo
// wrote: for an Index, the index's own file format, which a read-only
// server can memory-map (hnsw.Open, ivf.Open) or load (flat.Load) as it
// is, and keep open while the store goes on, since checkpoints never
// rewrite a data file in place. The name stays valid until two more
// checkpoints have completed (the newest two snapshots are kept); on Unix
// a file mapped by then stays readable after its removal.
func (s *Store) Snapshot() (path string, lsn uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapName == "" {
		return "", 0, false
	}
	return filepath.Join(s.dir, s.snapName), s.snapLSN, true
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
// keep, of either format, and any data file older than keep left without
// a manifest.
func (s *Store) removeObsolete(segs []string, keep uint64) {
	for _, name := range segs {
		os.Remove(filepath.Join(s.dir, name))
	}
	l := listSnapshots(s.dir)
	for _, r := range l.snaps {
		if r.lsn < keep {
			removeSnapshot(s.dir, r.lsn)
		}
	}
	for _, lsn := range l.data {
		if lsn < keep {
			removeSnapshot(s.dir, lsn)
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
