package collection

// vectors holds the documents' vectors by slot in fixed-size pages that
// are copied on write once a snapshot has captured them: capture hands
// out the current pages, and a later change to a page made before the
// capture copies the page first. So a checkpoint captures every vector
// without copying them while writers are held off, and writes them out
// while writers go on (see state.Capture); each page is copied at most
// once per capture, by the first write to it.
//
// vectors is not safe for concurrent use: the collection's mu guards it,
// and a captured view is immutable.
type vectors struct {
	dim     int
	perPage int // slots a page holds
	pages   []*vecPage
	n       int    // slots in use
	epoch   uint64 // captures so far; pages of an earlier epoch are shared
}

type vecPage struct {
	v     []float32 // perPage × dim
	epoch uint64
}

// pageBytes is the size of one page (at least one vector).
const pageBytes = 256 << 10

func newVectors(dim int) vectors {
	return vectors{dim: dim, perPage: max(1, pageBytes/(4*dim))}
}

// at returns slot's vector (valid until the next change).
func (v *vectors) at(slot uint32) []float32 {
	p, o := int(slot)/v.perPage, int(slot)%v.perPage*v.dim
	return v.pages[p].v[o : o+v.dim : o+v.dim]
}

// mut returns slot's vector for writing, copying its page first when a
// capture shares it.
func (v *vectors) mut(slot uint32) []float32 {
	i := int(slot) / v.perPage
	if p := v.pages[i]; p.epoch != v.epoch {
		v.pages[i] = &vecPage{v: append([]float32(nil), p.v...), epoch: v.epoch}
	}
	o := int(slot) % v.perPage * v.dim
	return v.pages[i].v[o : o+v.dim : o+v.dim]
}

// set replaces slot's vector.
func (v *vectors) set(slot uint32, x []float32) { copy(v.mut(slot), x) }

// push appends a vector in a new slot.
func (v *vectors) push(x []float32) {
	if v.n == len(v.pages)*v.perPage {
		v.pages = append(v.pages, &vecPage{v: make([]float32, v.perPage*v.dim), epoch: v.epoch})
	}
	v.n++
	v.set(uint32(v.n-1), x)
}

// pop drops the last slot.
func (v *vectors) pop() {
	v.n--
	if v.n%v.perPage == 0 {
		v.pages[len(v.pages)-1] = nil
		v.pages = v.pages[:len(v.pages)-1]
	}
}

// capture returns a view of the current vectors that later changes leave
// as it is.
func (v *vectors) capture() vectors {
	view := *v
	view.pages = append([]*vecPage(nil), v.pages...)
	v.epoch++
	return view
}
