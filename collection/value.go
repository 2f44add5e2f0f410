package collection

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Kind is the type of a metadata Value.
type Kind uint8

// Value kinds; the numbers are stored in the log and snapshots.
const (
	KindString Kind = 1
	KindNumber Kind = 2
	KindBool   Kind = 3
)

// Value is one metadata value: a string, a number (float64) or a bool.
// The zero Value is invalid (Upsert rejects it).
type Value struct {
	kind Kind
	s    string
	f    float64
}

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Number returns a numeric value; Upsert rejects NaN and ±Inf.
func Number(f float64) Value { return Value{kind: KindNumber, f: f} }

// Int returns the numeric value of i (exact up to 2⁵³).
func Int(i int64) Value { return Value{kind: KindNumber, f: float64(i)} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.f = 1
	}
	return v
}

// Kind returns the value's kind (0 for the zero Value).
func (v Value) Kind() Kind { return v.kind }

// AsString returns the string of a KindString value ("" otherwise).
func (v Value) AsString() string { return v.s }

// AsNumber returns the number of a KindNumber value (0 otherwise).
func (v Value) AsNumber() float64 {
	if v.kind != KindNumber {
		return 0
	}
	return v.f
}

// AsBool returns the truth of a KindBool value (false otherwise).
func (v Value) AsBool() bool { return v.kind == KindBool && v.f != 0 }

// String formats the value: strings quoted, numbers and bools as Go does.
func (v Value) String() string {
	switch v.kind {
	case KindString:
		return strconv.Quote(v.s)
	case KindNumber:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case KindBool:
		return strconv.FormatBool(v.f != 0)
	}
	return "<invalid>"
}

func (v Value) valid() error {
	switch v.kind {
	case KindString, KindBool:
		return nil
	case KindNumber:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return fmt.Errorf("number %v", v.f)
		}
		return nil
	}
	return fmt.Errorf("zero Value")
}

// postingKey is the key of a string or bool value's posting list within
// its field (numbers live in the field's column instead).
func (v Value) postingKey() string {
	if v.kind == KindBool {
		if v.f != 0 {
			return "\x03t"
		}
		return "\x03f"
	}
	return "\x01" + v.s
}

// appendSortedKeys appends m's keys to dst, sorted.
func appendSortedKeys(dst []string, m map[string]Value) []string {
	for k := range m {
		dst = append(dst, k)
	}
	slices.Sort(dst)
	return dst
}
