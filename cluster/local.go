package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
)

// exportBatch is the number of vectors per Export batch.
const exportBatch = 512

// Local is a Node in this process: one nearkit.Index per logical shard,
// made by the host's factory. Next to each index it keeps the shard's
// vectors and IDs, because the Index contract has no way to read vectors
// back and a shard must be streamable to its next owner; the copy costs
// Dim×4 bytes per vector.
//
// A Local is safe for concurrent use. Searches of one shard run in
// parallel; writes to a shard are serialised.
type Local struct {
	dim      int
	newIndex func() (nearkit.Index, error)

	mu     sync.RWMutex
	shards map[int]*shard
}

type shard struct {
	mu        sync.RWMutex
	idx       nearkit.Index
	slot      map[uint64]int
	ids       []uint64
	vecs      []float32
	importing bool
	deleted   map[uint64]struct{} // deleted while importing
}

// NewLocal returns a node whose shards are indexes made by newIndex, each
// of dimension dim.
func NewLocal(dim int, newIndex func() (nearkit.Index, error)) (*Local, error) {
	if dim <= 0 || newIndex == nil {
		return nil, fmt.Errorf("%w: cluster: NewLocal needs dim > 0 and a factory", nearkit.ErrInvalidConfig)
	}
	return &Local{dim: dim, newIndex: newIndex, shards: map[int]*shard{}}, nil
}

// Dim returns the vector dimension.
func (l *Local) Dim() int { return l.dim }

// Shards returns the logical shards the node holds, ascending.
func (l *Local) Shards() []int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]int, 0, len(l.shards))
	for s := range l.shards {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Held implements Node.
func (l *Local) Held(ctx context.Context) ([]int, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]int, 0, len(l.shards))
	for sh, s := range l.shards {
		s.mu.RLock()
		if !s.importing {
			out = append(out, sh)
		}
		s.mu.RUnlock()
	}
	slices.Sort(out)
	return out, nil
}

// Len returns the number of vectors held over all shards.
func (l *Local) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for _, s := range l.shards {
		s.mu.RLock()
		n += len(s.ids)
		s.mu.RUnlock()
	}
	return n
}

func (l *Local) get(sh int) *shard {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.shards[sh]
}

func (l *Local) getOrCreate(sh int, importing bool) (*shard, error) {
	if s := l.get(sh); s != nil {
		return s, nil
	}
	idx, err := l.makeIndex(sh)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.shards[sh]; s != nil {
		return s, nil
	}
	s := &shard{idx: idx, slot: map[uint64]int{}, importing: importing}
	if importing {
		s.deleted = map[uint64]struct{}{}
	}
	l.shards[sh] = s
	return s, nil
}

// makeIndex makes the index of a new copy of shard sh.
func (l *Local) makeIndex(sh int) (nearkit.Index, error) {
	if sh < 0 || sh >= maxShards {
		return nil, fmt.Errorf("%w: cluster: shard %d out of range", nearkit.ErrInvalidConfig, sh)
	}
	idx, err := l.newIndex()
	if err != nil {
		return nil, err
	}
	if idx.Dim() != l.dim {
		return nil, fmt.Errorf("%w: cluster: factory made an index of dimension %d, node has %d", nearkit.ErrInvalidConfig, idx.Dim(), l.dim)
	}
	return idx, nil
}

// Search implements Node.
func (l *Local) Search(ctx context.Context, req *SearchRequest) ([]nearkit.Result, error) {
	if err := check.Vector(req.Query, l.dim); err != nil {
		return nil, err
	}
	if err := check.K(req.K); err != nil {
		return nil, err
	}
	// One allocation for every shard's top-k: each gives at most
	// min(k, its size), so a huge k costs no more than the data.
	n := 0
	for _, sh := range req.Shards {
		if s := l.get(sh); s != nil {
			s.mu.RLock()
			n += min(req.K, len(s.ids))
			s.mu.RUnlock()
		}
	}
	all := make([]nearkit.Result, 0, n)
	for _, sh := range req.Shards {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := l.get(sh)
		if s == nil {
			return nil, fmt.Errorf("%w: shard %d", ErrShardNotHeld, sh)
		}
		s.mu.RLock()
		importing := s.importing
		var err error
		if !importing {
			all, err = s.idx.Search(all, req.Query, req.K, req.Opts)
		}
		s.mu.RUnlock()
		if importing {
			return nil, fmt.Errorf("%w: shard %d is still being copied in", ErrShardNotHeld, sh)
		}
		if err != nil {
			return nil, err
		}
	}
	nearkit.SortResults(all)
	if len(all) > req.K {
		all = all[:req.K]
	}
	return all, nil
}

// Add implements Node.
func (l *Local) Add(ctx context.Context, sh int, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, l.dim, len(ids)); err != nil {
		return err
	}
	s, err := l.getOrCreate(sh, false)
	if err != nil {
		return err
	}
	return s.add(ctx, ids, vecs, l.dim, false)
}

// Import implements Node.
func (l *Local) Import(ctx context.Context, sh int, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, l.dim, len(ids)); err != nil {
		return err
	}
	s, err := l.getOrCreate(sh, true)
	if err != nil {
		return err
	}
	return s.add(ctx, ids, vecs, l.dim, true)
}

// add inserts the vectors the shard lacks. Writes to a shard hold its lock
// for the whole batch, so a batch is atomic to searches and to Export.
func (s *shard) add(ctx context.Context, ids []uint64, vecs []float32, dim int, copied bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var newIDs []uint64
	var newVecs []float32
	seen := make(map[uint64]struct{}, len(ids))
	for i, id := range ids {
		v := vecs[i*dim : (i+1)*dim]
		if _, dup := seen[id]; dup {
			return fmt.Errorf("%w: id %d twice in one batch", nearkit.ErrDuplicateID, id)
		}
		seen[id] = struct{}{}
		if j, ok := s.slot[id]; ok {
			if !copied && !slices.Equal(s.vecs[j*dim:(j+1)*dim], v) {
				return fmt.Errorf("%w: id %d held with another vector", nearkit.ErrDuplicateID, id)
			}
			continue
		}
		if copied {
			if _, gone := s.deleted[id]; gone {
				continue
			}
		}
		newIDs = append(newIDs, id)
		newVecs = append(newVecs, v...)
	}
	if len(newIDs) == 0 {
		return nil
	}
	if err := s.idx.AddBatch(ctx, newIDs, newVecs); err != nil {
		return err
	}
	for i, id := range newIDs {
		s.slot[id] = len(s.ids)
		s.ids = append(s.ids, id)
		s.vecs = append(s.vecs, newVecs[i*dim:(i+1)*dim]...)
		if !copied && s.deleted != nil {
			delete(s.deleted, id)
		}
	}
	return nil
}

// Delete implements Node.
func (l *Local) Delete(ctx context.Context, sh int, ids []uint64) error {
	s := l.get(sh)
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dim := l.dim
	for _, id := range ids {
		j, ok := s.slot[id]
		if !ok {
			if s.importing {
				s.deleted[id] = struct{}{}
			}
			continue
		}
		if err := s.idx.Delete(id); err != nil {
			return err
		}
		if s.importing {
			s.deleted[id] = struct{}{}
		}
		last := len(s.ids) - 1
		if j != last {
			s.ids[j] = s.ids[last]
			copy(s.vecs[j*dim:(j+1)*dim], s.vecs[last*dim:])
			s.slot[s.ids[j]] = j
		}
		s.ids = s.ids[:last]
		s.vecs = s.vecs[:last*dim]
		delete(s.slot, id)
	}
	return nil
}

// Export implements Node. It copies the shard under its read lock one
// batch at a time, so writes proceed between batches; a write that lands
// after its row was copied reaches the destination through the router's
// dual writes.
func (l *Local) Export(ctx context.Context, sh int, fn func(ids []uint64, vecs []float32) error) error {
	s := l.get(sh)
	if s == nil {
		return fmt.Errorf("%w: shard %d", ErrShardNotHeld, sh)
	}
	dim := l.dim
	ids := make([]uint64, 0, exportBatch)
	vecs := make([]float32, 0, exportBatch*dim)
	// Snapshot the ID list once: rows moved by a swap-delete would
	// otherwise be skipped or sent twice.
	s.mu.RLock()
	snap := slices.Clone(s.ids)
	s.mu.RUnlock()
	for len(snap) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(snap), exportBatch)
		ids, vecs = ids[:0], vecs[:0]
		s.mu.RLock()
		for _, id := range snap[:n] {
			if j, ok := s.slot[id]; ok {
				ids = append(ids, id)
				vecs = append(vecs, s.vecs[j*dim:(j+1)*dim]...)
			}
		}
		s.mu.RUnlock()
		snap = snap[n:]
		if len(ids) == 0 {
			continue
		}
		if err := fn(ids, vecs); err != nil {
			return err
		}
	}
	return nil
}

// BeginImport implements Node.
func (l *Local) BeginImport(ctx context.Context, sh int) error {
	idx, err := l.makeIndex(sh)
	if err != nil {
		return err
	}
	s := &shard{idx: idx, slot: map[uint64]int{}, importing: true, deleted: map[uint64]struct{}{}}
	l.mu.Lock()
	l.shards[sh] = s
	l.mu.Unlock()
	return nil
}

// FinishImport implements Node.
func (l *Local) FinishImport(ctx context.Context, sh int) error {
	s, err := l.getOrCreate(sh, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.importing, s.deleted = false, nil
	s.mu.Unlock()
	return nil
}

// Drop implements Node.
func (l *Local) Drop(ctx context.Context, sh int) error {
	l.mu.Lock()
	delete(l.shards, sh)
	l.mu.Unlock()
	return nil
}
