package collection

import (
	"fmt"
	"math"
)

// Cond is a metadata condition for Query: built with Eq, In, Range, And,
// Or and Not. The zero Cond matches every document.
type Cond struct {
	op     condOp
	field  string
	vals   []Value
	lo, hi float64
	subs   []Cond
}

type condOp uint8

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
	switch c.op {
	case condAll:
		return "all"
	case condIn:
		if len(c.vals) == 1 {
			return fmt.Sprintf("%s = %v", c.field, c.vals[0])
		}
		return fmt.Sprintf("%s in %v", c.field, c.vals)
	case condRange:
		return fmt.Sprintf("%v ≤ %s ≤ %v", c.lo, c.field, c.hi)
	case condNot:
		return fmt.Sprintf("not (%v)", c.subs[0])
	}
	sep := " and "
	if c.op == condOr {
		sep = " or "
	}
	s := "("
	for i, sc := range c.subs {
		if i > 0 {
			s += sep
		}
		s += sc.String()
	}
	return s + ")"
}

func (c Cond) check() error {
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
		if err := s.check(); err != nil {
			return err
		}
	}
	return nil
}
