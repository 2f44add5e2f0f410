package collection

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/posting"
)

// Hit is one query result.
type Hit struct {
	Key      string
	Distance float32
	// Metadata and Payload are copies, filled when the query asked for
	// them (WithMetadata, WithPayload).
	Metadata map[string]Value
	Payload  []byte
}

// QueryOption adjusts a Query.
type QueryOption func(*queryOptions)

type queryOptions struct {
	where         Cond
	meta, payload bool
	ef            int
}

// Where restricts a query to the documents matching c.
func Where(c Cond) QueryOption { return func(o *queryOptions) { o.where = c } }

// WithMetadata fills each Hit's Metadata.
func WithMetadata() QueryOption { return func(o *queryOptions) { o.meta = true } }

// WithPayload fills each Hit's Payload.
func WithPayload() QueryOption { return func(o *queryOptions) { o.payload = true } }

// Ef sets the HNSW beam width of the search (nearkit.SearchOptions.Ef).
func Ef(ef int) QueryOption { return func(o *queryOptions) { o.ef = ef } }

// Query returns the (at most) k documents nearest to vec that match the
// Where condition, nearest first. It returns nearkit.ErrInvalidK for
// k ≤ 0, the vector's nearkit.ErrDimension or nearkit.ErrInvalidVector,
// nearkit.ErrInvalidConfig for a malformed condition (one nested deeper
// than MaxCondDepth too), and durable.ErrClosed after Close. A nil option
// is ignored.
func (c *Collection) Query(ctx context.Context, vec []float32, k int, opts ...QueryOption) ([]Hit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := check.K(k); err != nil {
		return nil, err
	}
	if err := check.Vector(vec, c.cfg.Dim); err != nil {
		return nil, err
	}
	var o queryOptions
	for _, f := range opts {
		if f != nil { // a nil option (one left unset by the caller) is none
			f(&o)
		}
	}
	if err := o.where.check(); err != nil {
		return nil, fmt.Errorf("%w: collection: where: %v", nearkit.ErrInvalidConfig, err)
	}
	so := nearkit.SearchOptions{Ef: o.ef}
	c.mu.RLock()
	if c.closed {
		// The index may be closed (HNSW's is): one answer for every
		// index type rather than each one's own.
		c.mu.RUnlock()
		return nil, fmt.Errorf("collection: query: %w", durable.ErrClosed)
	}
	k = min(k, len(c.docs))
	if o.where.op != condAll {
		f, n := c.compile(o.where)
		so.Filter = f
		k = min(k, n)
	}
	c.mu.RUnlock()
	if k == 0 {
		return nil, nil
	}
	res, err := c.idx.Search(nil, vec, k, so)
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, len(res))
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, r := range res {
		if r.ID >= uint64(len(c.slotOf)) || c.slotOf[r.ID] == 0 {
			continue // inserted or deleted while the search ran
		}
		d := &c.docs[c.slotOf[r.ID]-1]
		h := Hit{Key: d.key, Distance: r.Distance}
		if o.meta {
			h.Metadata = maps.Clone(d.meta)
		}
		if o.payload {
			h.Payload = slices.Clone(d.payload)
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// Count returns the number of documents matching cond.
func (c *Collection) Count(cond Cond) (int, error) {
	if err := cond.check(); err != nil {
		return 0, fmt.Errorf("%w: collection: where: %v", nearkit.ErrInvalidConfig, err)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if cond.op == condAll {
		return len(c.docs), nil
	}
	return c.eval(cond).Count(), nil
}

// bitsFilter is a compiled condition handed to the index.
type bitsFilter struct {
	b posting.Bits
	n int
}

func (f *bitsFilter) Allowed(id uint64) bool { return f.b.Has(id) }
func (f *bitsFilter) Count() int             { return f.n }

// sparseFraction: a filter allowing fewer than 1/sparseFraction of the
// documents goes to the index as a nearkit.AllowList, whose IDs an index
// can walk (HNSW's exact strategy looks each one up instead of testing
// every slot); a denser one as the bitmap itself, which the index only
// tests. HNSW walks AllowLists below 1/8 of its slots.
const sparseFraction = 8

// compile evaluates cond into a filter and returns it with the number of
// documents it allows. The caller holds mu.
func (c *Collection) compile(cond Cond) (nearkit.Filter, int) {
	b := c.eval(cond)
	n := b.Count()
	if n*sparseFraction >= len(c.docs) {
		return &bitsFilter{b: b, n: n}, n
	}
	al := nearkit.NewAllowList(uint64(len(b)) * 64)
	for id := range b.All {
		al.Set(id)
	}
	return al, n
}

// eval evaluates cond over the live documents. The caller holds mu.
func (c *Collection) eval(cond Cond) posting.Bits {
	switch cond.op {
	case condAll:
		return slices.Clone(c.live)
	case condIn:
		b := posting.NewBits(c.idRange())
		f := c.fields[cond.field]
		if f == nil {
			return b
		}
		for _, v := range cond.vals {
			if v.kind == KindNumber {
				f.nums.scan(b, c.ids, v.f, v.f)
			} else if l := f.lists[v.postingKey()]; l != nil {
				l.OrInto(b)
			}
		}
		return b
	case condRange:
		b := posting.NewBits(c.idRange())
		if f := c.fields[cond.field]; f != nil && cond.lo <= cond.hi {
			f.nums.scan(b, c.ids, cond.lo, cond.hi)
		}
		return b
	case condAnd:
		return c.evalAnd(cond.subs)
	case condOr:
		b := posting.NewBits(c.idRange())
		for _, s := range cond.subs {
			b.Or(c.eval(s))
		}
		return b
	case condNot:
		b := slices.Clone(c.live)
		b.AndNot(c.eval(cond.subs[0]))
		return b
	}
	panic("collection: unknown condition")
}

// evalAnd plans a conjunction: the conditions answered from posting
// lists (cost in proportion to their matches) go first, and a numeric
// range after them tests only the documents still in the running once
// they are few (a lookup each) instead of scanning its whole column.
// The caller holds mu.
func (c *Collection) evalAnd(subs []Cond) posting.Bits {
	if len(subs) == 0 {
		return slices.Clone(c.live)
	}
	var b posting.Bits
	var ranges []Cond
	for _, s := range subs {
		if s.op == condRange {
			ranges = append(ranges, s)
			continue
		}
		if b == nil {
			b = c.eval(s)
		} else {
			b.And(c.eval(s))
		}
	}
	for _, r := range ranges {
		f := c.fields[r.field]
		switch {
		case b == nil:
			b = c.eval(r)
		case f == nil || r.lo > r.hi:
			clear(b)
		case b.Count()*rangeLookupFraction < f.nums.size():
			f.nums.keep(b, c.slotOf, r.lo, r.hi)
		default:
			b.And(c.eval(r))
		}
	}
	return b
}

// rangeLookupFraction: a range in a conjunction tests the documents left
// one by one when they are fewer than 1/rangeLookupFraction of its column
// (a random lookup costs several sequential compares).
const rangeLookupFraction = 8
