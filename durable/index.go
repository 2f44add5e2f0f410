package durable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/record"
	"github.com/nearkit/nearkit/internal/stripe"
)

// Updater is implemented by indexes that replace a vector in place
// (hnsw.Index). Index.Update uses it when the wrapped index has it, and a
// Delete followed by an Add otherwise.
type Updater interface {
	Update(id uint64, vec []float32) error
}

// Config configures an Index.
type Config struct {
	// New returns the empty index a directory without a snapshot starts
	// from, e.g. func() (nearkit.Index, error) { return hnsw.New(cfg) }.
	New func() (nearkit.Index, error)
	// Read decodes what the index's WriteTo wrote (flat.Read, or a
	// function calling hnsw.Read), for loading snapshots.
	Read func(io.Reader) (nearkit.Index, error)
	// Options configure the log and checkpoints.
	Options
}

// Index makes any nearkit.Index durable: every Add, AddBatch, Delete and
// Update is committed to the write-ahead log of a Store before it is
// applied and before it returns; Search and the other reads go straight to
// the index. Checkpoints snapshot the index with its own WriteTo, and Open
// recovers it from the newest snapshot and the log.
//
// An Index is safe for concurrent use. Operations on the same ID are
// serialised (log order is apply order); operations on different IDs
// commit in parallel and, under SyncAlways, share fsyncs. Under SyncAlways
// a change is visible to searches once it is durable.
type Index struct {
	st    *Store
	cfg   Config
	idx   nearkit.Index
	dim   int
	locks stripe.Locks
	bufs  sync.Pool // *[]byte
}

var _ nearkit.Index = (*Index)(nil)

// Record opcodes.
const (
	opAdd      = 1
	opAddBatch = 2
	opDelete   = 3
	opUpdate   = 4
)

// batchRecordBytes bounds one AddBatch record; larger batches are logged
// and applied in parts.
const batchRecordBytes = 64 << 20

// OpenIndex opens (creating if needed) a durable index in dir: it loads the
// newest valid snapshot (or starts from cfg.New()), replays the log after
// it and returns the index ready for use. Recovery reports what it found.
func OpenIndex(ctx context.Context, dir string, cfg Config) (*Index, error) {
	if cfg.New == nil || cfg.Read == nil {
		return nil, fmt.Errorf("%w: durable: Config.New and Config.Read are required", nearkit.ErrInvalidConfig)
	}
	x := &Index{cfg: cfg}
	st, err := Open(ctx, dir, cfg.Options, (*indexState)(x))
	if err != nil {
		return nil, err
	}
	x.st = st
	return x, nil
}

// indexState is the Index as the Store's State.
type indexState Index

func (s *indexState) Restore(r io.Reader) error {
	var idx nearkit.Index
	var err error
	if r == nil {
		idx, err = s.cfg.New()
	} else {
		idx, err = s.cfg.Read(r)
	}
	if err != nil {
		return err
	}
	if idx == nil {
		return fmt.Errorf("%w: durable: Config.New returned no index", nearkit.ErrInvalidConfig)
	}
	s.idx, s.dim = idx, idx.Dim()
	return nil
}

func (s *indexState) WriteTo(w io.Writer) (int64, error) { return s.idx.WriteTo(w) }

// Replay applies one logged operation. An operation that failed live
// because of the ID (a duplicate Add, a Delete or Update of an absent ID)
// fails the same way on replay, since the log holds operations on one ID
// in the order they were applied: such errors are the expected replay of
// the live ones.
func (s *indexState) Replay(rec []byte) error {
	x := (*Index)(s)
	d := record.NewDecoder(rec)
	op := d.U8()
	var err error
	switch op {
	case opAdd, opUpdate:
		id := d.U64()
		vec := make([]float32, x.dim)
		d.Float32s(vec)
		if err = d.Finish(); err != nil {
			return err
		}
		if op == opAdd {
			err = x.idx.Add(id, vec)
		} else {
			err = x.update(id, vec)
		}
	case opAddBatch:
		n := d.Count(8+4*x.dim, MaxRecordBytes)
		ids := make([]uint64, n)
		d.Uint64s(ids)
		vecs := make([]float32, n*x.dim)
		d.Float32s(vecs)
		if err = d.Finish(); err != nil {
			return err
		}
		err = x.idx.AddBatch(context.Background(), ids, vecs)
	case opDelete:
		id := d.U64()
		if err = d.Finish(); err != nil {
			return err
		}
		err = x.idx.Delete(id)
	default:
		return fmt.Errorf("%w: durable: unknown index operation %d", nearkit.ErrCorrupt, op)
	}
	if errors.Is(err, nearkit.ErrDuplicateID) || errors.Is(err, nearkit.ErrUnknownID) {
		return nil
	}
	return err
}

func (x *Index) buf() *[]byte {
	if b, ok := x.bufs.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 64+4*x.dim)
	return &b
}

func (x *Index) putBuf(b *[]byte) {
	if cap(*b) <= 1<<20 {
		x.bufs.Put(b)
	}
}

// Add logs and inserts one vector. Errors are the wrapped index's (checked
// before anything is logged where they depend only on the vector) and the
// log's.
func (x *Index) Add(id uint64, vec []float32) error {
	return x.one(opAdd, id, vec)
}

// Update replaces the vector stored under id: the index's own Update when
// it has one (see Updater), else Delete then Add, which a search running
// in between sees as id missing for a moment. It returns an error wrapping
// nearkit.ErrUnknownID when id is absent.
func (x *Index) Update(id uint64, vec []float32) error {
	return x.one(opUpdate, id, vec)
}

func (x *Index) update(id uint64, vec []float32) error {
	if u, ok := x.idx.(Updater); ok {
		return u.Update(id, vec)
	}
	if err := x.idx.Delete(id); err != nil {
		return err
	}
	return x.idx.Add(id, vec)
}

func (x *Index) one(op uint8, id uint64, vec []float32) error {
	if err := check.Vector(vec, x.dim); err != nil {
		return err
	}
	b := x.buf()
	*b = record.AppendU8(*b, op)
	*b = record.AppendU64(*b, id)
	*b = record.AppendFloat32s(*b, vec)
	l := x.locks.Of(id)
	l.Lock()
	defer l.Unlock()
	err := x.st.Commit(*b, func() error {
		if op == opAdd {
			return x.idx.Add(id, vec)
		}
		return x.update(id, vec)
	})
	x.putBuf(b)
	return err
}

// AddBatch logs and inserts len(ids) vectors. The vectors and the IDs
// within the batch are checked before anything is logged. A batch whose
// record would exceed 64 MiB is logged and applied in parts, each atomic
// on its own: after a crash a prefix of the parts may be present.
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, x.dim, len(ids)); err != nil {
		return err
	}
	seen := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; dup {
			return fmt.Errorf("durable: add batch: %w: %d appears twice in the batch", nearkit.ErrDuplicateID, id)
		}
		seen[id] = struct{}{}
	}
	per := max(1, batchRecordBytes/(8+4*x.dim))
	for lo := 0; lo < len(ids); lo += per {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+per, len(ids))
		pids, pvecs := ids[lo:hi], vecs[lo*x.dim:hi*x.dim]
		b := make([]byte, 0, 5+len(pids)*(8+4*x.dim))
		b = record.AppendU8(b, opAddBatch)
		b = record.AppendU32(b, uint32(len(pids)))
		b = record.AppendUint64s(b, pids)
		b = record.AppendFloat32s(b, pvecs)
		unlock := x.locks.LockAll(pids)
		err := x.st.Commit(b, func() error { return x.idx.AddBatch(context.Background(), pids, pvecs) })
		unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Delete logs and removes id; it returns an error wrapping
// nearkit.ErrUnknownID when the index does not hold it.
func (x *Index) Delete(id uint64) error {
	var b [9]byte
	rec := record.AppendU64(record.AppendU8(b[:0], opDelete), id)
	l := x.locks.Of(id)
	l.Lock()
	defer l.Unlock()
	return x.st.Commit(rec, func() error { return x.idx.Delete(id) })
}

// Search searches the index.
func (x *Index) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	return x.idx.Search(dst, q, k, opts)
}

// SearchBatch searches the index.
func (x *Index) SearchBatch(ctx context.Context, queries []float32, k int, opts nearkit.SearchOptions) ([][]nearkit.Result, error) {
	return x.idx.SearchBatch(ctx, queries, k, opts)
}

// Len returns the index's Len.
func (x *Index) Len() int { return x.idx.Len() }

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric returns the index's metric.
func (x *Index) Metric() distance.Metric { return x.idx.Metric() }

// MemoryUsage returns the index's MemoryUsage.
func (x *Index) MemoryUsage() int64 { return x.idx.MemoryUsage() }

// WriteTo writes the wrapped index in its own format (a snapshot without
// the log position; use Checkpoint for one the directory knows).
func (x *Index) WriteTo(w io.Writer) (int64, error) { return x.idx.WriteTo(w) }

// Unwrap returns the wrapped index, for reads it offers beyond
// nearkit.Index. Changing it directly bypasses the log.
func (x *Index) Unwrap() nearkit.Index { return x.idx }

// Checkpoint snapshots the index; see Store.Checkpoint.
func (x *Index) Checkpoint(ctx context.Context) error { return x.st.Checkpoint(ctx) }

// Snapshot returns the path of the newest checkpoint's data file, which
// is the wrapped index's own file format (what its Save writes), and the
// LSN it covers; see Store.Snapshot. A read-only server can open it with
// hnsw.Open (memory-mapped, zero-copy), ivf.Open or flat.Load.
func (x *Index) Snapshot() (path string, lsn uint64, ok bool) { return x.st.Snapshot() }

// Sync makes every operation so far durable; see Store.Sync.
func (x *Index) Sync() error { return x.st.Sync() }

// Stats returns the log's counters.
func (x *Index) Stats() Stats { return x.st.Stats() }

// Recovery reports what opening the directory found.
func (x *Index) Recovery() Recovery { return x.st.Recovery() }

// Close syncs the log and releases the directory; the wrapped index stays
// usable for searches. It does not checkpoint.
func (x *Index) Close() error { return x.st.Close() }
