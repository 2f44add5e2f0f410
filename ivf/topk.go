package ivf

import "math"

// cand is a search candidate: its distance, where it lives (list and
// position, or during a fast scan the probe number and position) and its
// ID.
type cand struct {
	d         float32
	list, pos uint32
	id        uint64
}

// worse orders candidates by distance, then ID, the order of results.
func worse(a, b cand) bool { return a.d > b.d || a.d == b.d && a.id > b.id }

// topk keeps the k best candidates in a max-heap on worse. It is a typed
// heap, so pushes neither box nor allocate once h has grown to k.
type topk struct {
	h []cand
	k int
}

func (t *topk) reset(k int) { t.h, t.k = t.h[:0], k }

// bound returns the distance a candidate must not exceed to enter:
// +Inf until the heap is full.
func (t *topk) bound() float32 {
	if len(t.h) < t.k {
		return float32(math.Inf(1))
	}
	return t.h[0].d
}

// push offers c.
func (t *topk) push(c cand) {
	h := t.h
	if len(h) < t.k {
		h = append(h, c)
		i := len(h) - 1
		for i > 0 {
			p := (i - 1) / 2
			if !worse(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		t.h = h
		return
	}
	if t.k == 0 || !worse(h[0], c) {
		return
	}
	h[0] = c
	t.down(0, len(h))
}

func (t *topk) down(i, n int) {
	h := t.h
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		j := l
		if r := l + 1; r < n && worse(h[r], h[l]) {
			j = r
		}
		if !worse(h[j], h[i]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// sorted heap-sorts the candidates in place into ascending order and
// returns them; the heap is invalid afterwards until reset.
func (t *topk) sorted() []cand {
	h := t.h
	for n := len(h) - 1; n > 0; n-- {
		h[0], h[n] = h[n], h[0]
		t.down(0, n)
	}
	return h
}
