package ivf

import (
	"fmt"
	"math/bits"

	"github.com/nearkit/nearkit"
)

// How the index finds an entry by its ID.
//
// Search never needs it: results carry the IDs stored beside the codes.
// Only three things do: Add's duplicate check, Delete and Update. An exact
// table from ID to list and position costs 20–40 bytes per vector in a Go
// map, more than a 16-byte code and its 8-byte ID together, so an index
// that is built and searched (the common case, and the only one for an
// index from Open) keeps none. Until the first Delete or Update it keeps a
// blocked Bloom filter of its IDs instead (idBloomBits bits, about 1.2
// bytes, per vector): an ID the filter has never seen is new for certain;
// the rare one it may have seen (about 1 % of new IDs) is checked exactly
// by one scan of the lists' ID arrays, shared by every suspect of a batch.
// The first Delete or Update builds the exact table from the lists, once,
// and from then on it is kept and the filter dropped.

// idBloomBits is the filter's bits per ID it is sized for: with blocks of
// 512 bits and idBloomHashes bits per ID, about 1 % false positives at
// full load.
const (
	idBloomBits   = 10
	idBloomHashes = 7
	// idBloomSlack sizes a rebuilt filter for this fraction more IDs than
	// it is built with, so that one-at-a-time Adds rebuild it about every
	// n/4 inserts, not every insert.
	idBloomSlack = 0.25
)

// idBloom is a blocked Bloom filter over uint64 IDs: each ID sets
// idBloomHashes bits within one 64-byte block, so a lookup touches one
// cache line.
type idBloom struct {
	words []uint64 // 8 words per block
	capa  int      // IDs it is sized for
	n     int      // IDs added
}

func newIDBloom(capa int) *idBloom {
	capa = max(capa, 1024)
	nb := (capa*idBloomBits + 511) / 512
	return &idBloom{words: make([]uint64, nb*8), capa: capa}
}

// idHash mixes an ID (splitmix64's finaliser): IDs are often sequential.
func idHash(id uint64) uint64 {
	id ^= id >> 30
	id *= 0xbf58476d1ce4e5b9
	id ^= id >> 27
	id *= 0x94d049bb133111eb
	return id ^ id>>31
}

// testAndAdd sets id's bits and reports whether all were already set:
// false means id was certainly never added before.
func (b *idBloom) testAndAdd(id uint64) bool {
	h := idHash(id)
	blk, _ := bits.Mul64(h, uint64(len(b.words)/8))
	w := b.words[blk*8 : blk*8+8 : blk*8+8]
	g := h * 0x9e3779b97f4a7c15 // bit positions from other bits of h
	all := true
	for range idBloomHashes {
		p := g >> 55 // 9 bits: a bit of the 512-bit block
		g <<= 9
		m := uint64(1) << (p & 63)
		if w[p>>6]&m == 0 {
			all = false
			w[p>>6] |= m
		}
	}
	b.n++
	return all
}

func (b *idBloom) bytes() int64 { return int64(cap(b.words)) * 8 }

// fillIDBloom returns a filter sized for extra more IDs than the lists
// hold, holding theirs, and the IDs it may have seen twice: the candidates
// for a duplicate, which dupIDs settles.
func (x *Index) fillIDBloom(extra int) (*idBloom, []uint64) {
	n := x.n + extra
	b := newIDBloom(n + int(float64(n)*idBloomSlack))
	var suspects []uint64
	for i := range x.lists {
		for _, id := range x.lists[i].ids {
			if b.testAndAdd(id) {
				suspects = append(suspects, id)
			}
		}
	}
	return b, suspects
}

// dupID returns an ID among suspects that occurs more than once in the
// lists and batch together, scanning each once.
func (x *Index) dupID(suspects, batch []uint64) (uint64, bool) {
	if len(suspects) == 0 {
		return 0, false
	}
	count := make(map[uint64]int, len(suspects))
	for _, id := range suspects {
		count[id] = 0
	}
	see := func(ids []uint64) (uint64, bool) {
		for _, id := range ids {
			if c, ok := count[id]; ok {
				if c > 0 {
					return id, true
				}
				count[id] = 1
			}
		}
		return 0, false
	}
	for i := range x.lists {
		if id, dup := see(x.lists[i].ids); dup {
			return id, true
		}
	}
	return see(batch)
}

// checkNewIDs rejects IDs already held or repeated within ids. Without
// the exact table it records ids in the filter as it checks them; on an
// error it rebuilds the filter from the lists, so a refused batch leaves
// no trace.
func (x *Index) checkNewIDs(ids []uint64) error {
	if x.loc != nil {
		for _, id := range ids {
			if _, ok := x.loc[id]; ok {
				return fmt.Errorf("%w: ivf: id %d", nearkit.ErrDuplicateID, id)
			}
		}
		if len(ids) > 1 {
			seen := make(map[uint64]struct{}, len(ids))
			for _, id := range ids {
				if _, ok := seen[id]; ok {
					return fmt.Errorf("%w: ivf: id %d repeated in the batch", nearkit.ErrDuplicateID, id)
				}
				seen[id] = struct{}{}
			}
		}
		return nil
	}
	if x.seen == nil || x.seen.n+len(ids) > x.seen.capa {
		x.seen, _ = x.fillIDBloom(len(ids))
	}
	var suspects []uint64
	for _, id := range ids {
		if x.seen.testAndAdd(id) {
			suspects = append(suspects, id)
		}
	}
	if id, dup := x.dupID(suspects, ids); dup {
		x.seen, _ = x.fillIDBloom(0)
		return fmt.Errorf("%w: ivf: id %d held or repeated in the batch", nearkit.ErrDuplicateID, id)
	}
	return nil
}

// checkStoredIDs reports an ID stored twice in the lists (of a file
// being read) and leaves the filter for later Adds.
func (x *Index) checkStoredIDs() error {
	b, suspects := x.fillIDBloom(0)
	if id, dup := x.dupID(suspects, nil); dup {
		return fmt.Errorf("%w: ivf: id %d stored twice", nearkit.ErrCorrupt, id)
	}
	x.seen = b
	return nil
}

// locate builds the exact ID table, if it is not built yet, and drops the
// filter.
func (x *Index) locate() {
	if x.loc != nil {
		return
	}
	x.loc = make(map[uint64]uint64, x.n)
	for li := range x.lists {
		for pos, id := range x.lists[li].ids {
			x.loc[id] = uint64(li)<<32 | uint64(pos)
		}
	}
	x.seen = nil
}

// idMapBytes estimates the memory of a Go map from uint64 to uint64 of n
// entries: Go's swiss tables hold 8-slot groups of 16-byte slots and one
// control word (17 bytes a slot) at a load between 7/16 and 7/8 as they
// grow and split; 0.65 is the average over a growing map.
func idMapBytes(n int) int64 { return int64(float64(n) * 17 / 0.65) }
