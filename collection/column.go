package collection

import (
	"math"
	"math/bits"

	"github.com/nearkit/nearkit/internal/posting"
)

// column holds one numeric metadata field's values by document slot. It
// is dense (a []float64 by slot, NaN where a document lacks the field)
// once at least one slot in denseFraction has a value, and a map from
// slot to value while fewer do, so a field that few documents carry costs
// memory in proportion to them, whatever the number of documents: many
// rare fields cannot make the collection quadratic.
//
// A column is not safe for concurrent use; the collection's mu guards it.
type column struct {
	dense  []float64          // by slot; nil while sparse
	sparse map[uint32]float64 // slot → value; nil while dense
	n      int                // slots holding a value
}

const (
	// denseFraction: a column goes dense when n·denseFraction reaches the
	// number of slots, and back to a map when n·4·denseFraction falls
	// below its length.
	denseFraction = 8
	// denseMin: a column of fewer values stays a map.
	denseMin = 64
)

// get returns slot's value.
func (c *column) get(slot uint32) (float64, bool) {
	if c.dense != nil {
		if int(slot) < len(c.dense) && !math.IsNaN(c.dense[slot]) {
			return c.dense[slot], true
		}
		return 0, false
	}
	v, ok := c.sparse[slot]
	return v, ok
}

// set stores v (not NaN) for slot; slots is the collection's number of
// slots, which decides the form.
func (c *column) set(slot uint32, v float64, slots int) {
	if c.dense != nil {
		if int(slot) >= len(c.dense) {
			old := len(c.dense)
			c.dense = append(c.dense, make([]float64, int(slot)+1-old)...)
			for i := old; i < len(c.dense); i++ {
				c.dense[i] = math.NaN()
			}
		}
		if math.IsNaN(c.dense[slot]) {
			c.n++
		}
		c.dense[slot] = v
		return
	}
	if c.sparse == nil {
		c.sparse = make(map[uint32]float64)
	}
	if _, ok := c.sparse[slot]; !ok {
		c.n++
	}
	c.sparse[slot] = v
	if c.n >= denseMin && c.n*denseFraction >= slots {
		c.toDense(slots)
	}
}

// clear removes slot's value.
func (c *column) clear(slot uint32) {
	if c.dense != nil {
		if int(slot) < len(c.dense) && !math.IsNaN(c.dense[slot]) {
			c.dense[slot] = math.NaN()
			c.n--
			if c.n*4*denseFraction < len(c.dense) {
				c.toSparse()
			}
		}
		return
	}
	if _, ok := c.sparse[slot]; ok {
		delete(c.sparse, slot)
		c.n--
	}
}

func (c *column) toDense(slots int) {
	c.dense = make([]float64, slots)
	for i := range c.dense {
		c.dense[i] = math.NaN()
	}
	for s, v := range c.sparse {
		c.dense[s] = v
	}
	c.sparse = nil
}

func (c *column) toSparse() {
	c.sparse = make(map[uint32]float64, c.n)
	for s, v := range c.dense {
		if !math.IsNaN(v) {
			c.sparse[uint32(s)] = v
		}
	}
	c.dense = nil
}

// size is the cost of a scan: the entries it walks.
func (c *column) size() int {
	if c.dense != nil {
		return len(c.dense)
	}
	return c.n
}

// scan sets in b the internal IDs (ids, by slot) of the documents whose
// value lies in [lo, hi].
func (c *column) scan(b posting.Bits, ids []uint32, lo, hi float64) {
	if c.dense == nil {
		for s, x := range c.sparse {
			if x >= lo && x <= hi {
				b.Set(ids[s])
			}
		}
		return
	}
	dense := c.dense[:min(len(c.dense), len(ids))]
	ids = ids[:len(dense)]
	for i, x := range dense {
		// Branch-free: a range matches about as often as not, which a
		// branch would mispredict. NaN (absent) never matches.
		var in uint64
		if x >= lo && x <= hi {
			in = 1
		}
		id := ids[i]
		b[id/64] |= in << (id % 64)
	}
}

// keep clears from b the internal IDs whose value is absent or outside
// [lo, hi]; slotOf maps an internal ID to its slot + 1.
func (c *column) keep(b posting.Bits, slotOf []uint32, lo, hi float64) {
	for i, w := range b {
		for m := w; m != 0; m &= m - 1 {
			id := i*64 + bits.TrailingZeros64(m)
			in := false
			if id < len(slotOf) && slotOf[id] != 0 {
				x, ok := c.get(slotOf[id] - 1)
				in = ok && x >= lo && x <= hi
			}
			if !in {
				b[i] &^= 1 << (uint(id) % 64)
			}
		}
	}
}
