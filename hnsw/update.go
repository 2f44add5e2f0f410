package hnsw

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
)

// Update replaces the vector stored under id. The new vector is inserted
// as a new node with fresh links chosen by the insertion search and
// heuristic; the old node becomes a tombstone whose neighbours Vacuum later
// re-links among themselves (see Delete). Under L2 and InnerProduct a
// vector equal to the stored one changes nothing.
//
// Searches never return id twice and never see a mix of the two vectors:
// one that overlaps Update finds the old vector, or the new one, or (for
// the moment between the two, about as long as one search) neither.
// Concurrent Update and Delete calls on the same id take effect in some
// order: the last to finish wins.
//
// It returns an error wrapping nearkit.ErrUnknownID when the index does not
// hold id, nearkit.ErrDimension or nearkit.ErrInvalidVector for a bad
// vector, nearkit.ErrReadOnly for a memory-mapped index and ErrClosed after
// Close.
func (x *Index) Update(id uint64, vec []float32) error {
	if err := check.Vector(vec, x.dim); err != nil {
		return err
	}
	x.writeMu.RLock()
	defer x.writeMu.RUnlock()
	if err := x.beginWrite(false); err != nil {
		return err
	}
	old, s, ok, err := x.insertHidden(id, vec)
	if err != nil || !ok {
		return err
	}
	x.idMu.Lock()
	if cur, held := x.ids[id]; !held || cur != old {
		// A Delete or another Update of id finished meanwhile: this update
		// counts as the earlier one, and its node stays a tombstone.
		x.idMu.Unlock()
		atomic.AndUint32(x.metaOf(s), ^uint32(flagHidden))
		return nil
	}
	x.ids[id] = s
	x.retire(old)
	x.idMu.Unlock()
	// A search that admitted the old node may still be running: wait for it
	// before the new one becomes visible, so no search returns both.
	x.synchronize()
	m := atomic.LoadUint32(x.metaOf(s))
	if m&flagHidden != 0 && atomic.CompareAndSwapUint32(x.metaOf(s), m, m&levelMask) {
		x.ndeleted.Add(-1)
	}
	return nil
}

// Upsert is Update when the index holds id and Add when it does not.
func (x *Index) Upsert(id uint64, vec []float32) error {
	err := x.Update(id, vec)
	if err == nil || !isUnknown(err) {
		return err
	}
	err = x.Add(id, vec)
	if isDuplicate(err) {
		// Added by another goroutine in between: update that vector.
		return x.Update(id, vec)
	}
	return err
}

// insertHidden inserts vec as a new, hidden node for id (registered as an
// operation for the whole insertion) and returns the old node's slot and
// the new one's. ok is false when the stored vector already equals vec.
func (x *Index) insertHidden(id uint64, vec []float32) (old, s uint32, ok bool, err error) {
	g, _ := x.enter() // beginWrite ruled out Close
	defer x.leave(g)
	x.idMu.Lock()
	old, held := x.ids[id]
	if !held {
		x.idMu.Unlock()
		return 0, 0, false, fmt.Errorf("%w: %d", nearkit.ErrUnknownID, id)
	}
	// Normalize's rounding depends on the vector's alignment, so a cosine
	// vector is not compared (it is simply replaced).
	if !x.metric.Normalizes() && slices.Equal(x.vecOf(x.dirFor(x.dir.Load(), old), old), vec) {
		x.idMu.Unlock()
		return old, 0, false, nil
	}
	s, level, reused := x.takeSlot()
	if !reused {
		s, err = x.allocSlots(1)
		if err != nil {
			x.idMu.Unlock()
			return 0, 0, false, err
		}
		level = x.randomLevel()
	}
	// Hidden from the first moment any search could see it; counted as a
	// tombstone so that searches check.
	x.ndeleted.Add(1)
	atomic.OrUint32(x.metaOf(s), flagHidden|flagDeleted)
	x.idMu.Unlock()
	x.place(s, id, level, vec)
	sc := x.getScratch()
	x.insert(sc, s, level)
	x.scratch.Put(sc)
	return old, s, true, nil
}

func (x *Index) metaOf(s uint32) *uint32 {
	d := x.dirFor(x.dir.Load(), s)
	return &d.chunks[s>>x.shift].meta[s&x.mask]
}
