package collection

import (
	"fmt"
	"math"
	"strings"
)

// Cond is a metadata condition for Query: built with Eq, In, Range, And,
// Or and Not. The zero Cond matches every document. Query and Count
// refuse conditions nested more than MaxCondDepth deep.
type Cond struct {
	op     condOp
	field  string
	vals   []Value
	lo, hi float64
	subs   []Cond
}

type condOp uint8

// MaxCondDepth bounds the nesting of And, Or and Not in a condition:
// evaluating each level costs a bitmap over the documents, so a deeper
// one (no filter a person writes) would cost memory in proportion to its
// depth times the collection.
const MaxCondDepth = 64

const (
	condAll condOp = iota
	condIn
	condRange
	condAnd
	condOr
	condNot
)

// Eq matches documents whose field equals v (numbers compare as float64).
func Eq(field string, v Value) Cond { return In(field, v) }

// In matches documents whose field equals one of vs.
func In(field string, vs ...Value) Cond {
	return Cond{op: condIn, field: field, vals: append([]Value(nil), vs...)}
}

// Range matches documents whose field is a number in [min, max] (use
// math.Inf for an open end).
func Range(field string, min, max float64) Cond {
	return Cond{op: condRange, field: field, lo: min, hi: max}
}

// Less matches documents whose field is a number below x.
func Less(field string, x float64) Cond {
	return Range(field, math.Inf(-1), math.Nextafter(x, math.Inf(-1)))
}

// AtLeast matches documents whose field is a number ≥ x.
func AtLeast(field string, x float64) Cond { return Range(field, x, math.Inf(1)) }

// And matches documents matching every c (all documents for none).
func And(cs ...Cond) Cond { return Cond{op: condAnd, subs: append([]Cond(nil), cs...)} }

// Or matches documents matching at least one c (none for none).
func Or(cs ...Cond) Cond { return Cond{op: condOr, subs: append([]Cond(nil), cs...)} }

// Not matches documents not matching c.
func Not(c Cond) Cond { return Cond{op: condNot, subs: []Cond{c}} }

// String renders the condition, for logs and errors.
func (c Cond) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

// write renders c into b: one buffer for the whole tree, so the cost is
// the length of the text, not that times the depth.
func (c Cond) write(b *strings.Builder) {
	switch c.op {
	case condAll:
		b.WriteString("all")
		return
	case condIn:
		if len(c.vals) == 1 {
			fmt.Fprintf(b, "%s = %v", c.field, c.vals[0])
		} else {
			fmt.Fprintf(b, "%s in %v", c.field, c.vals)
		}
		return
	case condRange:
		fmt.Fprintf(b, "%v ≤ %s ≤ %v", c.lo, c.field, c.hi)
		return
	case condNot:
		b.WriteString("not (")
		c.subs[0].write(b)
		b.WriteString(")")
		return
	}
	sep := " and "
	if c.op == condOr {
		sep = " or "
	}
	b.WriteString("(")
	for i, sc := range c.subs {
		if i > 0 {
			b.WriteString(sep)
		}
		sc.write(b)
	}
	b.WriteString(")")
}

func (c Cond) check() error { return c.checkDepth(0) }

func (c Cond) checkDepth(depth int) error {
	if depth > MaxCondDepth {
		return fmt.Errorf("condition nested more than %d deep", MaxCondDepth)
	}
	switch c.op {
	case condIn:
		for _, v := range c.vals {
			if err := v.valid(); err != nil {
				return fmt.Errorf("%s: %v", c.field, err)
			}
		}
	case condRange:
		if math.IsNaN(c.lo) || math.IsNaN(c.hi) {
			return fmt.Errorf("%s: NaN range bound", c.field)
		}
	case condNot:
		if len(c.subs) != 1 {
			return fmt.Errorf("not takes one condition")
		}
	}
	for _, s := range c.subs {
		if err := s.checkDepth(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
