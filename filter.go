package nearkit

import "math/bits"

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

// AllowList is an allow-list of IDs as a bitset: bit id is set when id is
// allowed. IDs at or beyond its capacity are not allowed. It suits dense
// IDs; for sparse ones use a FilterFunc over a map.
//
// Reads (Allowed, Count, Has) are safe for concurrent use; Set and Clear
// are not safe concurrently with anything else.
type AllowList struct {
	words []uint64
	count int
}

// NewAllowList returns an empty allow-list with room for IDs below n.
func NewAllowList(n uint64) *AllowList {
	return &AllowList{words: make([]uint64, (n+63)/64)}
}

// Set allows id, growing the list if needed.
func (a *AllowList) Set(id uint64) {
	w := id / 64
	if w >= uint64(len(a.words)) {
		grown := make([]uint64, w+1+w/4)
		copy(grown, a.words)
		a.words = grown
	}
	m := uint64(1) << (id % 64)
	if a.words[w]&m == 0 {
		a.words[w] |= m
		a.count++
	}
}

// Clear disallows id.
func (a *AllowList) Clear(id uint64) {
	w := id / 64
	if w >= uint64(len(a.words)) {
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
	return w < uint64(len(a.words)) && a.words[w]&(1<<(id%64)) != 0
}

// Count returns the number of allowed IDs.
func (a *AllowList) Count() int { return a.count }

// All calls yield for each allowed ID in ascending order until it returns
// false; it is an iter.Seq[uint64].
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
}
