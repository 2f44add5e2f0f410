// Package heap holds allocation-free binary heaps of (distance, slot) pairs
// for top-k selection and best-first search. container/heap boxes each
// element into an interface (one allocation per push); these do not
// allocate once their backing slice has grown to its working size.
package heap

// Item is a candidate: an internal slot and its distance to the query.
type Item struct {
	Dist float32
	ID   uint32
}

// less orders by distance, then slot, so results are deterministic on ties.
func less(a, b Item) bool {
	return a.Dist < b.Dist || (a.Dist == b.Dist && a.ID < b.ID)
}

// Max is a max-heap: Top is the farthest item. Bounded by a capacity k it
// keeps the k nearest items seen.
type Max struct{ items []Item }

// Len returns the number of items.
func (h *Max) Len() int { return len(h.items) }

// Reset empties the heap, keeping its storage.
func (h *Max) Reset() { h.items = h.items[:0] }

// Top returns the farthest item; the heap must not be empty.
func (h *Max) Top() Item { return h.items[0] }

// Items returns the items in heap order (not sorted); the slice aliases the
// heap.
func (h *Max) Items() []Item { return h.items }

// Push adds it.
func (h *Max) Push(it Item) {
	h.items = append(h.items, it)
	s := h.items
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(s[p], it) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

// PushBounded adds it if the heap holds fewer than k items or it is nearer
// than the farthest, which it then evicts. It reports whether it was kept.
func (h *Max) PushBounded(it Item, k int) bool {
	if len(h.items) < k {
		h.Push(it)
		return true
	}
	if !less(it, h.items[0]) {
		return false
	}
	h.items[0] = it
	h.down(0)
	return true
}

// Pop removes and returns the farthest item; the heap must not be empty.
func (h *Max) Pop() Item {
	s := h.items
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	h.items = s[:n]
	if n > 0 {
		h.down(0)
	}
	return top
}

func (h *Max) down(i int) {
	s := h.items
	n := len(s)
	it := s[i]
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		c := l
		if r := l + 1; r < n && less(s[l], s[r]) {
			c = r
		}
		if !less(it, s[c]) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
}

// DrainSorted empties the heap into dst in ascending distance order and
// returns the extended slice.
func (h *Max) DrainSorted(dst []Item) []Item {
	n := len(h.items)
	start := len(dst)
	for range n {
		dst = append(dst, Item{})
	}
	for i := n - 1; i >= 0; i-- {
		dst[start+i] = h.Pop()
	}
	return dst
}

// Min is a min-heap: Top is the nearest item.
type Min struct{ items []Item }

// Len returns the number of items.
func (h *Min) Len() int { return len(h.items) }

// Reset empties the heap, keeping its storage.
func (h *Min) Reset() { h.items = h.items[:0] }

// Top returns the nearest item; the heap must not be empty.
func (h *Min) Top() Item { return h.items[0] }

// Push adds it.
func (h *Min) Push(it Item) {
	h.items = append(h.items, it)
	s := h.items
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !less(it, s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = it
}

// Pop removes and returns the nearest item; the heap must not be empty.
func (h *Min) Pop() Item {
	s := h.items
	top := s[0]
	n := len(s) - 1
	it := s[n]
	s = s[:n]
	h.items = s
	if n == 0 {
		return top
	}
	i := 0
	for {
		l := 2*i + 1
		if l >= n || l < 0 {
			break
		}
		c := l
		if r := l + 1; r < n && less(s[r], s[l]) {
			c = r
		}
		if !less(s[c], it) {
			break
		}
		s[i] = s[c]
		i = c
	}
	s[i] = it
	return top
}
