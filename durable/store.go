package durable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nearkit/nearkit"
)

var (
	// ErrLocked: another process (or another Open in this one) holds the
	// directory.
	ErrLocked = errors.New("durable: directory is locked by another user")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("durable: closed")
)

// State is what a Store makes durable: an in-memory state machine that
// changes only through records committed to the log.
type State interface {
	// Restore replaces the whole state with a snapshot written by WriteTo,
	// or with the empty state when r is nil. Open calls it before any
	// Replay, and again with an older snapshot if it fails; it must not
	// keep r.
	Restore(r io.Reader) error
	// Replay applies one record read back from the log, in log order. It
	// is called only from Open, never concurrently.
	Replay(rec []byte) error
	// WriteTo writes a snapshot of the state. Checkpoint calls it while no
	// commit is in flight (see Store.Commit), so it sees exactly the
	// records up to one log position.
	io.WriterTo
}

// Capturer is a State that takes its snapshot in two steps, so that
// writers are held off only for what cannot be captured otherwise.
// Checkpoint calls Capture in place of WriteTo, while no commit is in
// flight: Capture writes to tail what it must write then, and captures
// the rest cheaply (copy-on-write, say) into head, which Checkpoint calls
// once commits have resumed. The snapshot is head's bytes followed by
// tail's, the same bytes WriteTo would have written at the Capture, and
// Restore reads them as one.
type Capturer interface {
	State
	Capture(tail io.Writer) (head io.WriterTo, err error)
}

// Options configure a Store. The zero value is usable: SyncAlways,
// 64 MiB segments, a checkpoint after every 256 MiB of log.
type Options struct {
	// Sync is the durability policy (default SyncAlways).
	Sync SyncPolicy
	// SegmentBytes is the size at which the log moves to a new segment
	// file. Default 64 MiB; smaller values than a segment holding one
	// record (41 bytes) are raised to that.
	SegmentBytes int64
	// CheckpointBytes starts an automatic checkpoint (in the background)
	// when the log written since the last one exceeds it. Default 256 MiB;
	// negative disables.
	CheckpointBytes int64
	// CheckpointInterval starts an automatic checkpoint this long after
	// the last one if records were committed since. 0 disables.
	CheckpointInterval time.Duration
}

const (
	defaultSegmentBytes    = 64 << 20
	defaultCheckpointBytes = 256 << 20
	// flushBytes is the buffer size at which SyncNever and SyncInterval
	// write the buffered records to the file.
	flushBytes = 1 << 20
	// maxBuffered is the buffer size at which a writer stops leaving the
	// write to the flusher and does it itself.
	maxBuffered = 16 << 20
	// minSegmentBytes is the size of a segment holding one record of one
	// byte: the smallest SegmentBytes.
	minSegmentBytes = segHeaderSize + frameHeader + 1
)

func (o *Options) fill() error {
	if !o.Sync.valid() {
		return fmt.Errorf("%w: durable: sync policy %v", nearkit.ErrInvalidConfig, o.Sync)
	}
	if o.SegmentBytes < 0 || o.CheckpointInterval < 0 {
		return fmt.Errorf("%w: durable: SegmentBytes=%d CheckpointInterval=%v", nearkit.ErrInvalidConfig, o.SegmentBytes, o.CheckpointInterval)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	// A segment holding only its header must not count as full, or each
	// rotation would be followed by another, forever.
	o.SegmentBytes = max(o.SegmentBytes, minSegmentBytes)
	if o.CheckpointBytes == 0 {
		o.CheckpointBytes = defaultCheckpointBytes
	}
	return nil
}

// segment is one log file the store knows of.
type segment struct {
	first uint64
	size  int64
}

// Store is a directory holding a State's snapshots and its write-ahead
// log: records are committed to the log before they change the state, and
// Open rebuilds the state from the newest valid snapshot and the records
// after it.
//
// A Store is safe for concurrent use. Commits run in parallel and share
// fsyncs; Checkpoint holds commits off only while the state writes its
// snapshot to memory.
type Store struct {
	dir   string
	opts  Options
	state State
	lock  *os.File
	rec   Recovery

	// gate is held shared by every commit from its append until its apply
	// returns, and exclusively by Checkpoint while it takes the snapshot:
	// so the snapshot holds exactly the records up to the log position it
	// records.
	gate sync.RWMutex
	// order serialises CommitFunc's build and append.
	order sync.Mutex

	mu       sync.Mutex
	cond     sync.Cond // signalled when a flush ends
	f        *os.File  // the active segment
	dirty    bool      // the active segment was created since the directory's last fsync
	segs     []segment // live segments, ascending; the last is active
	buf      []byte    // frames appended but not yet written
	spare    []byte
	last     uint64 // LSN of the newest record appended
	written  uint64 // LSN of the newest record written to the file
	synced   uint64 // LSN of the newest record fsynced
	flushing bool   // a flush is writing or syncing outside mu
	// lastGroup is the number of records the last fsync made durable.
	lastGroup uint64
	// gathering is set while a group-commit leader waits for records
	// (gatherLocked), which append signals through gathered; gatherGen
	// tells its timeout from an earlier round's.
	gathering bool
	gathered  sync.Cond
	gatherGen uint64
	err       error // sticky I/O error: the log's state on disk is unknown
	closed    bool
	closing   bool // a Close has begun
	stats     Stats
	snapLSN   uint64 // newest snapshot
	// snapName is the newest snapshot's data file, "" when there is none
	// or it is a version-1 file (see Snapshot).
	snapName string
	// mustReach is, during recovery, the newest LSN a damaged snapshot
	// covers: the log has to reach it (see recover).
	mustReach uint64
	// lastPausedBytes is what the last checkpoint wrote while writers
	// were held off: the size its next buffer is reserved at.
	lastPausedBytes int64
	prevLSN         uint64 // the snapshot before it (0: none); its log is kept
	// since counts what was appended after the newest snapshot.
	sinceRecords, sinceBytes int64

	ckMu      sync.Mutex // one checkpoint at a time
	flushWake chan struct{}
	wake      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	ckWant    bool // an automatic checkpoint was requested and not yet started
}

// Open opens (creating if needed) the store in dir and recovers state from
// it: see Recovery for what it reports and recover.go for the rules. It
// returns an error wrapping ErrLocked when another Store holds dir, and
// one wrapping nearkit.ErrCorrupt when the log is damaged anywhere but at
// its tail or a segment is missing; one wrapping nearkit.ErrInvalidConfig
// for a nil state or options out of range, and ctx's error when it is
// already done.
func Open(ctx context.Context, dir string, opts Options, state State) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if state == nil {
		return nil, fmt.Errorf("%w: durable: Open without a State", nearkit.ErrInvalidConfig)
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("durable: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, "LOCK"))
	if err != nil {
		return nil, err
	}
	s := &Store{dir: dir, opts: opts, state: state, lock: lock, wake: make(chan struct{}, 1), flushWake: make(chan struct{}, 1), done: make(chan struct{})}
	s.cond.L = &s.mu
	s.gathered.L = &s.mu
	if err := s.recover(ctx); err != nil {
		lock.Close()
		return nil, err
	}
	if opts.Sync.mode == syncInterval {
		s.wg.Go(s.syncLoop)
	}
	if opts.Sync.mode != syncAlways {
		s.wg.Go(s.flushLoop)
	}
	if opts.CheckpointBytes > 0 || opts.CheckpointInterval > 0 {
		s.wg.Go(s.checkpointLoop)
	}
	return s, nil
}

// Recovery returns what Open found and did.
func (s *Store) Recovery() Recovery { return s.rec }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Commit appends rec to the log, waits until it is durable as the sync
// policy says, and then calls apply (when not nil) and returns its error.
// apply is where the caller changes its state to match the record; a
// record whose apply fails stays in the log and is replayed, so apply must
// fail (or succeed) the same way on replay: the caller serialises
// conflicting commits (two on the same key, say) around Commit so that log
// order and apply order agree.
//
// Under SyncAlways a change is visible only once it is durable. rec is
// not retained. Commit returns ErrClosed after Close, an error wrapping
// nearkit.ErrInvalidConfig for a record over MaxRecordBytes, and the I/O
// error of a failed write or fsync, which sticks: every later commit
// returns it too, since the log's contents on disk are then unknown.
func (s *Store) Commit(rec []byte, apply func() error) error {
	if err := checkRecordSize(rec); err != nil {
		return err
	}
	partial := payloadCRC(rec)
	s.gate.RLock()
	defer s.gate.RUnlock()
	lsn, err := s.append(rec, partial)
	if err != nil {
		return err
	}
	return s.finish(lsn, apply)
}

// CommitFunc is Commit with the record made by build, which runs under a
// lock that orders the CommitFuncs: records built by concurrent
// CommitFuncs reach the log in the order their builds ran. A caller that
// hands out something in build (the next free ID, say) so learns that log
// order is hand-out order, which replay can then hold the log to. When
// build fails nothing is appended and its error is returned; when build's
// record cannot be appended (the Store is closed, a write failed, or the
// record exceeds MaxRecordBytes), no later CommitFunc can append either,
// except after the size error, which a build that hands things out
// should therefore check itself, undoing what it handed out.
func (s *Store) CommitFunc(build func() ([]byte, error), apply func() error) error {
	if build == nil {
		return fmt.Errorf("%w: durable: CommitFunc without a build", nearkit.ErrInvalidConfig)
	}
	s.gate.RLock()
	defer s.gate.RUnlock()
	lsn, err := s.buildAppend(build)
	if err != nil {
		return err
	}
	return s.finish(lsn, apply)
}

// buildAppend runs build and appends its record under the order lock,
// released by a defer so that a build which panics (and a caller which
// recovers) does not leave every later CommitFunc waiting for it.
func (s *Store) buildAppend(build func() ([]byte, error)) (uint64, error) {
	s.order.Lock()
	defer s.order.Unlock()
	rec, err := build()
	if err == nil {
		err = checkRecordSize(rec)
	}
	if err != nil {
		return 0, err
	}
	return s.append(rec, payloadCRC(rec))
}

func checkRecordSize(rec []byte) error {
	if len(rec) > MaxRecordBytes {
		return fmt.Errorf("%w: durable: a %d-byte record exceeds MaxRecordBytes (%d)", nearkit.ErrInvalidConfig, len(rec), MaxRecordBytes)
	}
	return nil
}

// finish waits for lsn as the policy says and applies. The caller holds
// gate shared.
func (s *Store) finish(lsn uint64, apply func() error) error {
	if s.opts.Sync.mode == syncAlways {
		if err := s.waitSynced(lsn); err != nil {
			return err
		}
	}
	if apply == nil {
		return nil
	}
	return apply()
}

func (s *Store) append(rec []byte, partial uint32) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	s.last++
	lsn := s.last
	s.buf = appendFrame(s.buf, lsn, partial, rec)
	n := int64(frameHeader + len(rec))
	s.segs[len(s.segs)-1].size += n
	s.sinceRecords++
	s.sinceBytes += n
	if s.gathering {
		s.gathered.Signal()
	}
	if s.opts.Sync.mode != syncAlways && s.bufferFullLocked() {
		// No fsync will come to write the buffer out: the flusher does,
		// so the writer does not wait for the write. A writer far ahead
		// of it writes the buffer itself, which bounds the memory the
		// buffer takes.
		select {
		case s.flushWake <- struct{}{}:
		default:
		}
		// A full segment is rotated here, so segments keep to
		// SegmentBytes whatever the flusher's timing.
		segFull := s.segs[len(s.segs)-1].size >= s.opts.SegmentBytes
		if (segFull || len(s.buf) >= maxBuffered) && !s.flushing {
			s.flushLocked(false)
		}
	}
	if b := s.opts.CheckpointBytes; b > 0 && s.sinceBytes >= b && !s.ckWant {
		s.ckWant = true
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return lsn, s.err
}

// bufferFullLocked reports whether the buffer is due to be written: it
// holds flushBytes, or the active segment has reached SegmentBytes.
func (s *Store) bufferFullLocked() bool {
	return len(s.buf) >= flushBytes || s.segs[len(s.segs)-1].size >= s.opts.SegmentBytes
}

// flushLoop writes the buffer out for SyncNever and SyncInterval when
// append finds it full.
func (s *Store) flushLoop() {
	for {
		select {
		case <-s.done:
			return
		case <-s.flushWake:
		}
		s.mu.Lock()
		for !s.flushing && s.err == nil && len(s.buf) > 0 && s.bufferFullLocked() {
			s.flushLocked(false)
		}
		s.mu.Unlock()
	}
}

// waitSynced waits until lsn is fsynced (see syncToLocked).
func (s *Store) waitSynced(lsn uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncToLocked(lsn)
}

// flushLocked writes the buffered frames to the active segment and, when
// sync is set, fsyncs it, with mu released during the I/O (appends go on
// into the other buffer). The caller holds mu and no flush is running. A
// segment grown past SegmentBytes is closed and a new one started.
func (s *Store) flushLocked(sync bool) {
	s.flushing = true
	buf, upto := s.buf, s.last
	s.buf = s.spare[:0]
	f, dirty := s.f, s.dirty
	s.mu.Unlock()

	var err error
	if len(buf) > 0 {
		_, err = f.Write(buf)
	}
	var took time.Duration
	if err == nil && sync {
		t := time.Now()
		err = datasync(f)
		if err == nil && dirty {
			err = syncDir(s.dir)
		}
		took = time.Since(t)
	}

	s.mu.Lock()
	s.spare = buf[:0]
	s.flushing = false
	if err != nil {
		s.fail(fmt.Errorf("durable: log write: %w", err))
	} else {
		s.written = upto
		if sync {
			s.stats.Fsyncs++
			s.stats.SyncedRecords += int64(upto - s.synced)
			s.stats.FsyncLatency.add(took)
			s.lastGroup = upto - s.synced
			s.synced = upto
			if dirty && s.f == f {
				s.dirty = false
			}
		}
		if s.segs[len(s.segs)-1].size-int64(len(s.buf)) >= s.opts.SegmentBytes {
			s.rotateLocked()
		}
	}
	s.cond.Broadcast()
}

func (s *Store) fail(err error) {
	if s.err == nil {
		s.err = err
	}
}

// rotateLocked starts a new segment after the last record written to the
// active one; frames still buffered will go to the new one. The active
// segment is fsynced first if needed, so a later segment can never be
// durable while an earlier one is not (recovery would take that for a
// missing segment). The caller holds mu and no flush runs.
func (s *Store) rotateLocked() {
	if s.synced < s.written {
		t := time.Now()
		if err := datasync(s.f); err != nil {
			s.fail(fmt.Errorf("durable: log sync: %w", err))
			return
		}
		s.stats.Fsyncs++
		s.stats.SyncedRecords += int64(s.written - s.synced)
		s.stats.FsyncLatency.add(time.Since(t))
		s.synced = s.written
	}
	first := s.written + 1
	f, err := createSegment(s.dir, first)
	if err != nil {
		s.fail(err)
		return
	}
	if err := s.f.Close(); err != nil {
		f.Close()
		s.fail(fmt.Errorf("durable: close segment: %w", err))
		return
	}
	pending := int64(len(s.buf))
	s.segs[len(s.segs)-1].size -= pending
	s.f, s.dirty = f, true
	s.segs = append(s.segs, segment{first: first, size: segHeaderSize + pending})
}

// syncLocked flushes and fsyncs everything appended so far, waiting for a
// running flush first. The caller holds mu.
func (s *Store) syncLocked() error { return s.syncToLocked(s.last) }

// syncToLocked waits until every record up to lsn is fsynced (and the
// active segment's directory entry is), leading an fsync itself when none
// is running: the group commit. Records appended while it waits do not
// keep it waiting. The caller holds mu.
func (s *Store) syncToLocked(lsn uint64) error {
	for s.err == nil && (s.synced < lsn || s.dirty) {
		if s.flushing {
			s.cond.Wait()
			continue
		}
		if s.opts.Sync.mode == syncAlways {
			s.gatherLocked()
		}
		s.flushLocked(true)
	}
	return s.err
}

// gatherLocked lets the writers the last fsync released append their next
// records before the next fsync starts. Without it a leader starts the
// next fsync the moment the last ends, while the writers it released are
// still applying and encoding: each fsync then carries only about half of
// N writers and each writer rides every other fsync. The leader waits
// until as many records are buffered as the last fsync carried, or half a
// mean fsync at most, so a lone writer never waits and a slow writer costs
// the others a bounded delay. The caller holds mu and no flush runs; mu
// is released while waiting, with flushing set so no one else leads.
func (s *Store) gatherLocked() {
	want := s.lastGroup
	if want <= 1 || s.last-s.written >= want {
		return
	}
	s.flushing = true
	s.gathering = true
	s.gatherGen++
	gen := s.gatherGen
	t := time.AfterFunc(s.stats.FsyncLatency.Mean()/2, func() {
		s.mu.Lock()
		if s.gathering && s.gatherGen == gen {
			s.gathering = false
			s.gathered.Signal()
		}
		s.mu.Unlock()
	})
	for s.gathering && s.last-s.written < want && s.err == nil {
		s.gathered.Wait()
	}
	t.Stop()
	s.gathering = false
	s.flushing = false
}

// Sync makes every record committed so far durable, whatever the policy.
func (s *Store) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.syncLocked()
}

// syncLoop is SyncInterval's background fsync.
func (s *Store) syncLoop() {
	t := time.NewTicker(s.opts.Sync.interval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		// Everything acknowledged before the tick is synced before the loop
		// waits again, even when a buffer flush (which does not sync) is
		// running at the tick: so the loss window is one interval plus one
		// fsync, never two intervals.
		s.mu.Lock()
		s.syncToLocked(s.last)
		s.mu.Unlock()
	}
}

// Stats returns the log's and checkpoints' counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Segments = len(s.segs)
	for _, g := range s.segs {
		st.LogBytes += g.size
	}
	st.LastLSN = s.last
	st.SyncedLSN = s.synced
	st.RecordsSinceCheckpoint = s.sinceRecords
	st.BytesSinceCheckpoint = s.sinceBytes
	return st
}

// Close syncs the log and releases the directory. It does not checkpoint:
// the next Open replays the log written since the last checkpoint. Commits
// after Close return ErrClosed, as does a second Close (or all but one of
// concurrent ones); Close waits for a running checkpoint.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed || s.closing {
		s.mu.Unlock()
		return ErrClosed
	}
	// Claimed under mu, so that of concurrent Closes one closes done and
	// the others return ErrClosed.
	s.closing = true
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	s.gate.Lock()
	defer s.gate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.syncLocked()
	s.closed = true
	if cerr := s.f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if cerr := s.lock.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, so entries created or renamed in it are
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

func segmentName(first uint64) string { return fmt.Sprintf("wal-%016x.log", first) }

// createSegment creates (or empties) the segment whose first record is
// first and writes its header.
func createSegment(dir string, first uint64) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, segmentName(first)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("durable: create segment: %w", err)
	}
	if _, err := f.Write(segmentHeader(first)); err != nil {
		f.Close()
		return nil, fmt.Errorf("durable: create segment: %w", err)
	}
	return f, nil
}
