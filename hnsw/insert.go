package hnsw

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
)

// Add inserts vec under id. The vector is copied (and normalised for
// Cosine). It returns an error wrapping nearkit.ErrDimension or
// nearkit.ErrInvalidVector for a bad vector, nearkit.ErrDuplicateID when
// the index already holds id, nearkit.ErrReadOnly for a memory-mapped
// index and ErrClosed after Close. Add is safe for concurrent use with
// every other method. It fills the slots Vacuum freed before growing the
// index; when none is left and tombstones make up 1/32 of the index, Add
// first runs Vacuum itself, which makes that one call slower (call Vacuum
// from a background goroutine to avoid it).
func (x *Index) Add(id uint64, vec []float32) error {
	if err := x.add(id, vec); err != nil {
		return err
	}
	if x.quant != nil || x.qg != nil {
		x.trainIfDue()
	}
	return nil
}

func (x *Index) add(id uint64, vec []float32) error {
	if err := check.Vector(vec, x.dim); err != nil {
		return err
	}
	x.writeMu.RLock()
	defer x.writeMu.RUnlock()
	if err := x.beginWrite(false); err != nil {
		return err
	}
	g, _ := x.enter() // beginWrite ruled out Close
	defer x.leave(g)
	s, level, err := x.reserve(id)
	if err != nil {
		return err
	}
	x.place(s, id, level, vec)
	sc := x.getScratch()
	x.insert(sc, s, level)
	x.scratch.Put(sc)
	return nil
}

// reserve claims id and a slot for it and draws the slot's level.
func (x *Index) reserve(id uint64) (uint32, int, error) {
	x.idMu.Lock()
	defer x.idMu.Unlock()
	if _, dup := x.ids[id]; dup {
		return 0, 0, fmt.Errorf("%w: %d", nearkit.ErrDuplicateID, id)
	}
	if s, level, ok := x.takeSlot(); ok {
		x.ids[id] = s
		return s, level, nil
	}
	s, err := x.allocSlots(1)
	if err != nil {
		return 0, 0, err
	}
	x.ids[id] = s
	return s, x.randomLevel(), nil
}

func (x *Index) randomLevel() int {
	x.rngMu.Lock()
	u := x.rng.Float64()
	x.rngMu.Unlock()
	// 1-u is in (0,1], so the logarithm is finite.
	l := int(-math.Log(1-u) * x.mult)
	return min(l, maxLevel)
}

// place writes a reserved slot's vector, label and level; nothing links to
// the slot yet, so plain writes are safe and become visible to readers
// through the atomic link stores that later publish the slot.
func (x *Index) place(s uint32, id uint64, level int, vec []float32) {
	d := x.dirFor(x.dir.Load(), s)
	c := d.chunks[s>>x.shift]
	o := s & x.mask
	v := c.vecs[int(o)*x.vstride:][:x.dim]
	copy(v, vec)
	if x.metric.Normalizes() {
		distance.Normalize(v)
	}
	if x.quant != nil {
		x.encodeSlot(c, o, v)
	}
	if x.qg != nil {
		x.qgEncodeSlot(c, o, v)
	}
	c.labels[o] = id
	// A reused slot (delete.go) keeps its level and its upper lists' words.
	if level > 0 && atomic.LoadUint32(&c.meta[o])&flagFree == 0 {
		c.upper[o] = x.allocUpper(level)
	}
	m := uint32(level)
	if atomic.LoadUint32(&c.meta[o])&flagHidden != 0 {
		// The new node of an Update stays hidden until it replaces the old
		// one (update.go).
		m |= flagDeleted | flagHidden
	}
	atomic.StoreUint32(&c.meta[o], m)
	clearPending(c, o)
}

// insert links slot s (placed, level given) into the graph, following
// hnswlib's addPoint: greedy descent to the node's top level, then on each
// level down to 0 a beam search of width efConstruction and the neighbour
// heuristic. Unlike hnswlib it first chooses the neighbours on every level
// and writes the node's own lists, and only then adds the back-links that
// make it reachable: a reader never finds a half-linked node, and other
// writers never touch its lists before they are complete. Single-threaded,
// the graph is the same as with hnswlib's order, because a level's search
// never reads the lists another level's linking changes.
func (x *Index) insert(sc *scratch, s uint32, level int) {
	x.epMu.Lock()
	e := x.entry.Load()
	if e == emptyEntry {
		x.entry.Store(packEntry(s, level))
		x.epMu.Unlock()
		return
	}
	ep, maxL := unpackEntry(e)
	raises := level > maxL
	if !raises {
		x.epMu.Unlock()
	}
	d := x.dirFor(x.dir.Load(), s)
	q := x.vecOf(d, s)
	fs := floatScorer{x: x, q: q}
	cur, curD := descend(x, sc, &fs, ep, x.dist(q, x.vecOf(d, ep)), maxL, level)
	epDeleted := x.ndeleted.Load() > 0 && !x.admit(d, ep, nil)
	checked := x.ndeleted.Load() > 0
	top := min(level, maxL)
	for l := top; l >= 0; l-- {
		searchLayer(x, sc, &fs, cur, curD, l, x.efc, checked, nil)
		if epDeleted {
			// As hnswlib: a deleted entry point is still a candidate
			// neighbour, so the new node stays connected to the top.
			x.pushBounded(sc, ep, x.dist(q, x.vecOf(x.dirFor(d, ep), ep)), x.efc)
		}
		sc.items = sc.top.DrainSorted(sc.items[:0])
		sc.sel[l] = x.selectNeighbors(sc, sc.items, x.m, sc.sel[l][:0])
		if len(sc.items) > 0 {
			// The next level starts from the nearest candidate, which the
			// heuristic always keeps.
			cur, curD = sc.items[0].ID, sc.items[0].Dist
		}
	}
	d = x.dir.Load()
	for l := top; l >= 0; l-- {
		storeList(x.list(d, s, l), sc.sel[l])
	}
	sc.qg.buf = x.qgStoreList(d, s, sc.sel[0], sc.qg.buf)
	for l := top; l >= 0; l-- {
		mx := x.m
		if l == 0 {
			mx = x.m0
		}
		for _, n := range sc.sel[l] {
			x.addLink(sc, n, s, l, mx)
		}
	}
	if raises {
		x.entry.Store(packEntry(s, level))
		x.epMu.Unlock()
	}
}

func (x *Index) pushBounded(sc *scratch, s uint32, dd float32, ef int) {
	for _, it := range sc.top.Items() {
		if it.ID == s {
			return
		}
	}
	sc.top.PushBounded(heap.Item{Dist: dd, ID: s}, ef)
}

// selectNeighbors is hnswlib's getNeighborsByHeuristic2: from candidates in
// ascending distance to the base node, keep one only if it is nearer to the
// base than to every neighbour kept so far, up to mx. With fewer than mx
// candidates all are kept. The kept ids are appended to dst.
func (x *Index) selectNeighbors(sc *scratch, cands []heap.Item, mx int, dst []uint32) []uint32 {
	if len(cands) < mx {
		for _, c := range cands {
			dst = append(dst, c.ID)
		}
		return dst
	}
	d := x.dir.Load()
	kept := sc.kept[:0]
	for _, c := range cands {
		if len(kept) >= mx {
			break
		}
		d = x.dirFor(d, c.ID)
		cv := x.vecOf(d, c.ID)
		good := true
		for _, k := range kept {
			if x.dist(x.vecOf(d, k.ID), cv) < c.Dist {
				good = false
				break
			}
		}
		if good {
			kept = append(kept, c)
		}
	}
	sc.kept = kept
	for _, k := range kept {
		dst = append(dst, k.ID)
	}
	return dst
}

// addLink adds the back-link n → s on level l, shrinking n's list with the
// heuristic when it is full (hnswlib's mutuallyConnectNewElement).
func (x *Index) addLink(sc *scratch, n, s uint32, l, mx int) {
	d := x.dir.Load()
	mu := x.lockOf(d, n)
	mu.Lock()
	defer mu.Unlock()
	list := x.list(d, n, l)
	cnt := int(atomic.LoadUint32(&list[0]))
	if cnt < mx {
		if l == 0 {
			x.qgSetEntry(d, n, cnt, s)
		}
		atomic.StoreUint32(&list[1+cnt], s)
		atomic.StoreUint32(&list[0], uint32(cnt+1))
		return
	}
	nv := x.vecOf(d, n)
	cands := append(sc.items[:0], heap.Item{Dist: x.dist(x.vecOf(d, s), nv), ID: s})
	for j := 1; j <= cnt; j++ {
		id := atomic.LoadUint32(&list[j])
		cands = append(cands, heap.Item{Dist: x.dist(x.vecOf(d, id), nv), ID: id})
	}
	sortItems(cands)
	sc.items = cands
	sel := x.selectNeighbors(sc, cands, mx, sc.ids[:0])
	sc.ids = sel
	if l == 0 {
		sc.qg.buf = x.qgStoreList(d, n, sel, sc.qg.buf)
	}
	storeList(list, sel)
}

// sortItems sorts a short slice by (distance, id); insertion sort, as the
// lists hold at most 2M+1 items.
func sortItems(a []heap.Item) {
	for i := 1; i < len(a); i++ {
		it := a[i]
		j := i
		for j > 0 && (a[j-1].Dist > it.Dist || (a[j-1].Dist == it.Dist && a[j-1].ID > it.ID)) {
			a[j] = a[j-1]
			j--
		}
		a[j] = it
	}
}

// AddBatch inserts len(ids) vectors stored contiguously in vecs
// (len(vecs) == len(ids)*Dim()) on runtime.GOMAXPROCS(0) goroutines. Every
// vector and ID is checked before any is inserted: a bad vector, an ID the
// index holds or an ID repeated in the batch fails the whole batch. Levels
// are drawn in batch order, so with GOMAXPROCS=1 the build is deterministic.
// If ctx is cancelled, AddBatch stops, returns ctx's error, and the vectors
// not yet inserted are left out of the index (their IDs are free again).
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := x.addBatch(ctx, ids, vecs); err != nil {
		return err
	}
	if x.quant != nil || x.qg != nil {
		x.trainIfDue()
	}
	return nil
}

func (x *Index) addBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, x.dim, len(ids)); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	x.writeMu.RLock()
	defer x.writeMu.RUnlock()
	if err := x.beginWrite(true); err != nil {
		return err
	}
	slots, levels, err := x.reserveBatch(ids)
	if err != nil {
		return err
	}
	n := len(ids)
	done := make([]bool, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			sc := x.getScratch()
			defer x.scratch.Put(sc)
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				s := slots[i]
				g, _ := x.enter() // beginWrite ruled out Close
				x.place(s, ids[i], int(levels[i]), vecs[i*x.dim:(i+1)*x.dim])
				x.insert(sc, s, int(levels[i]))
				x.leave(g)
				done[i] = true
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		x.abandon(slots, ids, done)
		return err
	}
	return nil
}

// reserveBatch claims the IDs and a slot for each, free slots first (in
// ascending order, keeping their levels), then new ones with drawn levels.
func (x *Index) reserveBatch(ids []uint64) ([]uint32, []uint8, error) {
	x.idMu.Lock()
	defer x.idMu.Unlock()
	seen := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := x.ids[id]; dup {
			return nil, nil, fmt.Errorf("%w: %d", nearkit.ErrDuplicateID, id)
		}
		if _, dup := seen[id]; dup {
			return nil, nil, fmt.Errorf("%w: %d repeated in the batch", nearkit.ErrDuplicateID, id)
		}
		seen[id] = struct{}{}
	}
	slots := make([]uint32, len(ids))
	levels := make([]uint8, len(ids))
	reused := min(len(x.life.free), len(ids))
	if fresh := len(ids) - reused; fresh > 0 {
		base, err := x.allocSlots(fresh)
		if err != nil {
			return nil, nil, err
		}
		for i := range fresh {
			slots[reused+i] = base + uint32(i)
		}
	}
	for i := range reused {
		s, l, _ := x.takeSlot()
		slots[i], levels[i] = s, uint8(l)
	}
	for i, id := range ids {
		x.ids[id] = slots[i]
		if i >= reused {
			levels[i] = uint8(x.randomLevel())
		}
	}
	return slots, levels, nil
}

// abandon releases the slots of a cancelled batch that were never linked:
// they become tombstones nothing points to, and their IDs are free.
// A reused slot goes back on the free list.
func (x *Index) abandon(slots []uint32, ids []uint64, done []bool) {
	x.idMu.Lock()
	defer x.idMu.Unlock()
	d := x.dir.Load()
	for i, ok := range done {
		if ok {
			continue
		}
		s := slots[i]
		c := d.chunks[s>>x.shift]
		if atomic.LoadUint32(&c.meta[s&x.mask])&flagFree != 0 {
			x.life.free = append(x.life.free, s)
		} else {
			atomic.OrUint32(&c.meta[s&x.mask], flagDeleted)
			x.ndeleted.Add(1)
		}
		if x.ids[ids[i]] == s {
			delete(x.ids, ids[i])
		}
	}
}
