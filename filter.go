package nearkit

import (
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
)

// Filter restricts search results to allowed IDs. Allowed is called from
// inside the search, possibly from many goroutines at once, so it must be
// safe for concurrent use and fast.
type Filter interface {
	Allowed(id uint64) bool
}

// FilterFunc adapts a predicate on the ID to a Filter.
type FilterFunc func(id uint64) bool

// Allowed reports f(id).
func (f FilterFunc) Allowed(id uint64) bool { return f(id) }

// Counter is implemented by filters that know how many IDs they allow, so an
// index can estimate selectivity and pick a strategy (exact scan of the
// allowed set versus graph traversal) without probing.
type Counter interface {
	Count() int
}

// AllowList is an allow-list of IDs. IDs below a dense bound live in a
// bitset (bit id set when id is allowed), which is where Allowed is
// fastest; larger IDs — hashed 64-bit IDs, or a few far beyond the rest —
// live in a hash set, so any uint64 can be allowed and memory stays
// proportional to the number of IDs allowed. The bitset grows to cover a
// new ID only while it costs at most about as much memory as the hash set
// would (four words per allowed ID, and always the first 64Ki IDs);
// growing it moves the hash set's IDs it now covers into it.
//
// Reads (Allowed, Count, All) are safe for concurrent use with each other;
// Set and Clear are not safe concurrently with anything else.
type AllowList struct {
	words  []uint64            // dense part: IDs below 64·len(words)
	sparse map[uint64]struct{} // IDs at or above 64·len(words)
	count  int

	// sorted holds sparse's IDs in ascending order for All. Set and Clear
	// mark it stale; the first All after them rebuilds it under mu, so
	// concurrent readers build it once.
	mu     sync.Mutex
	stale  atomic.Bool
	sorted []uint64
}

const (
	// denseMinWords is the bitset size the dense part may always grow to
	// (8 KiB: IDs below 65,536).
	denseMinWords = 1 << 10
	// denseWordsPerID bounds the dense part otherwise: a hash-set entry
	// and its place in the sorted slice cost about four words.
	denseWordsPerID = 4
	// denseHintWords bounds what NewAllowList pre-sizes (1 MiB: IDs below
	// 8,388,608), whatever n it is given.
	denseHintWords = 1 << 17
)

// NewAllowList returns an empty allow-list sized for IDs below n. n is a
// hint: the bitset is pre-sized for at most the first 8,388,608 IDs, and
// any ID can be Set whatever n was.
func NewAllowList(n uint64) *AllowList {
	return &AllowList{words: make([]uint64, min(n/64+1, denseHintWords))}
}

// Set allows id.
func (a *AllowList) Set(id uint64) {
	w := id / 64
	if w >= uint64(len(a.words)) {
		limit := max(denseMinWords, denseWordsPerID*uint64(a.count+1))
		if w >= limit {
			if _, ok := a.sparse[id]; !ok {
				if a.sparse == nil {
					a.sparse = make(map[uint64]struct{})
				}
				a.sparse[id] = struct{}{}
				a.stale.Store(true)
				a.count++
			}
			return
		}
		a.growDense(min(max(w+1+w/4, uint64(2*len(a.words))), limit))
	}
	m := uint64(1) << (id % 64)
	if a.words[w]&m == 0 {
		a.words[w] |= m
		a.count++
	}
}

// growDense extends the bitset to n words and moves the sparse IDs it now
// covers into it.
func (a *AllowList) growDense(n uint64) {
	grown := make([]uint64, n)
	copy(grown, a.words)
	a.words = grown
	for id := range a.sparse {
		if w := id / 64; w < n {
			a.words[w] |= 1 << (id % 64)
			delete(a.sparse, id)
			a.stale.Store(true)
		}
	}
}

// Clear disallows id.
func (a *AllowList) Clear(id uint64) {
	w := id / 64
	if w >= uint64(len(a.words)) {
		if _, ok := a.sparse[id]; ok {
			delete(a.sparse, id)
			a.stale.Store(true)
			a.count--
		}
		return
	}
	m := uint64(1) << (id % 64)
	if a.words[w]&m != 0 {
		a.words[w] &^= m
		a.count--
	}
}

// Allowed reports whether id is in the list.
func (a *AllowList) Allowed(id uint64) bool {
	w := id / 64
	if w < uint64(len(a.words)) {
		return a.words[w]&(1<<(id%64)) != 0
	}
	if a.sparse == nil {
		return false
	}
	_, ok := a.sparse[id]
	return ok
}

// Count returns the number of allowed IDs.
func (a *AllowList) Count() int { return a.count }

// All calls yield for each allowed ID in ascending order until it returns
// false; it is an iter.Seq[uint64]. The first All after a Set or Clear of
// an ID beyond the bitset sorts those IDs (once, whatever the number of
// concurrent callers); later ones allocate nothing.
func (a *AllowList) All(yield func(uint64) bool) {
	for i, w := range a.words {
		for w != 0 {
			b := bits.TrailingZeros64(w)
			if !yield(uint64(i)*64 + uint64(b)) {
				return
			}
			w &= w - 1
		}
	}
	for _, id := range a.sparseSorted() {
		if !yield(id) {
			return
		}
	}
}

// sparseSorted returns the sparse IDs in ascending order, rebuilding the
// sorted slice if a Set or Clear made it stale.
func (a *AllowList) sparseSorted() []uint64 {
	if !a.stale.Load() {
		return a.sorted
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stale.Load() {
		s := a.sorted[:0]
		for id := range a.sparse {
			s = append(s, id)
		}
		slices.Sort(s)
		a.sorted = s
		a.stale.Store(false)
	}
	return a.sorted
}
