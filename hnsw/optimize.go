package hnsw

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/nearkit/nearkit"
)

// Optimize renumbers the index's storage slots in breadth-first order of
// the level-0 graph from the entry point, so that nodes linked to each
// other sit next to each other in memory (graph reordering, Coleman et
// al., NeurIPS 2022). The graph, the IDs and the results do not change;
// what changes is where each vector lives. A search reads whole vectors
// one after another, and the hardware prefetcher streaming one vector
// runs on into the next; after reordering that next one is usually a
// graph neighbour the search is about to score, so those bytes are not
// wasted. Measured on Fashion-MNIST (784-d, M=16) at ef=12, the same
// graph before and after, searched in alternating blocks: 3–5 % more
// queries per second.
//
// Call it after a bulk load, before serving. It holds the index for its
// whole run: Add, AddBatch, Delete, Update, Vacuum and WriteTo wait for
// it, and searches that start meanwhile wait too (searches already
// running finish first). It needs a second copy of the vectors and links
// while it runs (about MemoryUsage again) and takes about as long as
// copying them. When ctx is cancelled it stops, leaves the index as it
// was and returns ctx's error. An index opened with Open is read-only:
// Optimize returns an error wrapping nearkit.ErrReadOnly.
func (x *Index) Optimize(ctx context.Context) error {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	if err := x.writable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	x.life.gate.Lock()
	x.life.gated.Store(true)
	defer func() {
		x.life.gated.Store(false)
		x.life.gate.Unlock()
	}()
	// Searches that registered before the gate closed finish now; those
	// that start later wait in enter.
	x.synchronize()

	e := x.entry.Load()
	if e == emptyEntry {
		return nil
	}
	n := int(x.nslots.Load())
	perm := x.bfsOrder(n)
	st, err := x.permuted(ctx, perm)
	if err != nil {
		return err
	}
	ep, maxL := unpackEntry(e)
	x.dir.Store(st.dir)
	x.pool.Store(st.pool)
	x.poolUsed = st.poolUsed
	x.entry.Store(packEntry(perm[ep], maxL))
	x.idMu.Lock()
	for id, s := range x.ids {
		x.ids[id] = perm[s]
	}
	for i, s := range x.life.free {
		x.life.free[i] = perm[s]
	}
	slices.Sort(x.life.free)
	x.idMu.Unlock()
	return nil
}

// bfsOrder returns the new slot of each of the n slots. The nodes of the
// upper levels come first, breadth-first on level 1 from the entry point:
// every descent reads them, so packed together they stay in cache and
// share pages (measured 2–3 % on top of the level-0 order). Then the rest
// breadth-first on level 0, neighbours in list order, and last the slots
// neither walk reached (free slots, unreachable tombstones) in their old
// order.
func (x *Index) bfsOrder(n int) []uint32 {
	const none = ^uint32(0)
	d := x.dir.Load()
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = none
	}
	next := uint32(0)
	seen := make([]bool, n)
	walk := func(ep uint32, l int) {
		clear(seen)
		if perm[ep] == none {
			perm[ep] = next
			next++
		}
		queue := []uint32{ep}
		seen[ep] = true
		for qi := 0; qi < len(queue); qi++ {
			list := x.list(d, queue[qi], l)
			cnt := min(int(list[0]), len(list)-1)
			for _, nb := range list[1 : 1+cnt] {
				if int(nb) >= n || seen[nb] {
					continue
				}
				seen[nb] = true
				queue = append(queue, nb)
				if perm[nb] == none {
					perm[nb] = next
					next++
				}
			}
		}
	}
	ep, maxL := unpackEntry(x.entry.Load())
	if maxL > 0 {
		walk(ep, 1)
		for s := range n {
			if perm[s] == none && x.levelOf(d, uint32(s)) > 0 {
				perm[s] = next
				next++
			}
		}
	}
	walk(ep, 0)
	for s := range perm {
		if perm[s] == none {
			perm[s] = next
			next++
		}
	}
	return perm
}

// storage is what Optimize builds and then publishes.
type storage struct {
	dir      *directory
	pool     *upperPool
	poolUsed int
}

// permuted copies the n slots into fresh chunks, slot s at perm[s], with
// every link renumbered.
func (x *Index) permuted(ctx context.Context, perm []uint32) (*storage, error) {
	n := len(perm)
	od := x.dir.Load()
	nd := &directory{}
	for len(nd.chunks)<<x.shift < n {
		nd.chunks = append(nd.chunks, x.newChunk())
	}
	st := &storage{dir: nd, pool: &upperPool{}}
	for s := range uint32(n) {
		if s%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		ns := perm[s]
		oc, oo := od.chunks[s>>x.shift], s&x.mask
		nc, no := nd.chunks[ns>>x.shift], ns&x.mask
		copy(x.vecOf(nd, ns), x.vecOf(od, s))
		if x.quant != nil {
			copy(nc.codes[int(no)*x.dim:][:x.dim], oc.codes[int(oo)*x.dim:][:x.dim])
		}
		if x.qg != nil {
			// A block lists codes in list order, which renumbering keeps.
			copy(x.qgCode(nd, ns), x.qgCode(od, s))
			copy(x.qgBlock(nd, ns), x.qgBlock(od, s))
		}
		nc.labels[no] = oc.labels[oo]
		meta := atomic.LoadUint32(&oc.meta[oo])
		nc.meta[no] = meta
		level := int(meta & levelMask)
		if level > 0 {
			st.pool.chunks, nc.upper[no] = carveUpper(st.pool.chunks, &st.poolUsed, level*x.strideU)
		}
		for l := 0; l <= level; l++ {
			src := x.list(od, s, l)
			var dst []uint32
			if l == 0 {
				dst = x.list(nd, ns, 0)
			} else {
				dst = x.upperList(st.pool, nc.upper[no], l)
			}
			cnt := min(int(src[0]), len(src)-1)
			for j := 1; j <= cnt; j++ {
				id := src[j]
				if int(id) >= n {
					return nil, fmt.Errorf("%w: hnsw: slot %d links to slot %d of %d", nearkit.ErrCorrupt, s, id, n)
				}
				dst[j] = perm[id]
			}
			dst[0] = uint32(cnt)
		}
	}
	return st, nil
}
