package hnsw

import (
	"unsafe"

	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/scalar"
)

// Scorers: one value type per representation the graph walk can score
// (float32 vectors, SQ8 codes with the integer L2 or inner-product query;
// room for more). The walk (walk.go, filter.go) is generic over them and
// reaches a scorer through scoreAll, once per expanded node: its type
// switch compiles, in each instantiation, to a compare of the type word
// and a loop with the scorer's distance inlined, so no interface or
// dictionary call sits in the per-distance loop. (A method call on a type
// parameter goes through the instantiation's dictionary and does not
// inline; nor would a per-distance helper holding the switch, whose cost
// exceeds the inliner's budget.) Scoring a node's neighbours as one batch
// is also the shape that batch codecs (4-bit fast-scan, RaBitQ) want.
//
// A new representation plugs in with a value type holding the index and
// its prepared query, a member of the scorers union, a case in scoreAll
// (its batch distance loop) and a case in prefetchSpec (what of a slot it
// reads first); descend, searchLayer and the filtered walk then serve it
// unchanged.

// floatScorer scores the float32 vectors with the index's metric kernel.
type floatScorer struct {
	x *Index
	q []float32 // the query, normalised for cosine
}

// sq8L2Scorer scores SQ8 codes of a uniform L2 codec with the integer
// kernel, in code units (the search scales or re-ranks the results).
type sq8L2Scorer struct {
	x *Index
	q *scalar.L2Query
}

// sq8DotScorer scores SQ8 codes of an inner-product or cosine codec with
// the integer weights of scalar.DotQuery.
type sq8DotScorer struct {
	x *Index
	q *scalar.DotQuery
}

// qgScorer scores the 4-bit PQ codes of a QGraph index (each slot's own
// code) with the query's ADC table: the QGraph search's descent through
// the upper levels (qgraph_search.go).
type qgScorer struct {
	x     *Index
	p     *pq.ProductQuantizer
	table []float32
}

// scorers is the set of scorer types the walk is instantiated with.
type scorers interface {
	floatScorer | sq8L2Scorer | sq8DotScorer | qgScorer
}

// scoreAll sets out[i] to the distance from s's query to slot ids[i] and
// returns out resized to len(ids); d holds every id's chunk.
func scoreAll[S scorers](s *S, d *directory, ids []uint32, out []float32) []float32 {
	if cap(out) < len(ids) {
		out = make([]float32, len(ids), 2*len(ids))
	}
	out = out[:len(ids)]
	switch s := any(s).(type) {
	case *floatScorer:
		x, q := s.x, s.q
		for i, id := range ids {
			out[i] = x.dist(q, x.vecOf(d, id))
		}
	case *sq8L2Scorer:
		x, q := s.x, s.q
		for i, id := range ids {
			out[i] = float32(q.IntDistanceUnchecked(x.codeOf(d, id)))
		}
	case *sq8DotScorer:
		x, q := s.x, s.q
		for i, id := range ids {
			out[i] = q.DistanceUnchecked(x.codeOf(d, id))
		}
	case *qgScorer:
		x, p, t := s.x, s.p, s.table
		for i, id := range ids {
			out[i] = p.Distance(t, x.qgCode(d, id))
		}
	default:
		panic("hnsw: unknown scorer")
	}
	return out
}

// score is scoreAll for one slot, for the few distances outside the
// expansion loops (entry points, seeds).
func score[S scorers](s *S, d *directory, id uint32) float32 {
	var one [1]float32
	return scoreAll(s, d, []uint32{id}, one[:0])[0]
}

// slotPrefetch describes what a scorer reads first of a slot, so that the
// walk's neighbour loop can prefetch it without knowing the scorer.
type slotPrefetch struct {
	field  uintptr // offset in chunk of the slice holding the objects
	stride uintptr // bytes from one slot's object to the next
	n      uintptr // bytes to prefetch
}

// prefetchSpec returns the prefetch of s's representation: the first
// prefetchBytes of a vector (the hardware prefetcher streams the rest), a
// code whole (measured best on Fashion-MNIST's 784-byte codes: 256 or 128
// bytes were 3–10 % slower).
func prefetchSpec[S scorers](s *S) slotPrefetch {
	switch s := any(s).(type) {
	case *floatScorer:
		x := s.x
		return slotPrefetch{unsafe.Offsetof(chunk{}.vecs), uintptr(x.vstride) * 4, min(uintptr(x.dim)*4, prefetchBytes)}
	case *sq8L2Scorer:
		return codePrefetch(s.x)
	case *sq8DotScorer:
		return codePrefetch(s.x)
	case *qgScorer:
		cs := uintptr(s.x.qg.cs)
		return slotPrefetch{unsafe.Offsetof(chunk{}.qcodes), cs, cs}
	}
	panic("hnsw: unknown scorer")
}

func codePrefetch(x *Index) slotPrefetch {
	return slotPrefetch{unsafe.Offsetof(chunk{}.codes), uintptr(x.dim), uintptr(x.dim)}
}

// slotAddr returns the address to prefetch p.n bytes from for slot id; d
// holds id's chunk. The slice's data pointer is the first word of its
// header at p.field. (A prefetch never faults, so the address needs no
// bounds check.) The walk calls prefetch.Range(slotAddr(…), p.n) itself:
// a helper making the call would exceed the inliner's budget.
func (x *Index) slotAddr(d *directory, id uint32, p slotPrefetch) unsafe.Pointer {
	base := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(d.chunks[id>>x.shift]), p.field))
	return unsafe.Add(base, uintptr(id&x.mask)*p.stride)
}

// codeOf returns the code of slot s. d must hold s's chunk.
func (x *Index) codeOf(d *directory, s uint32) []uint8 {
	c := d.chunks[s>>x.shift]
	o := int(s&x.mask) * x.dim
	return c.codes[o : o+x.dim : o+x.dim]
}
