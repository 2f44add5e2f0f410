package posting

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestListAgainstMap adds and removes IDs at densities that move a List
// between its array and bitmap forms, checking it against a map.
func TestListAgainstMap(t *testing.T) {
	for _, span := range []uint32{100, 5000, 1 << 20} {
		rng := rand.New(rand.NewPCG(uint64(span), 1))
		var l List
		ref := map[uint32]bool{}
		for step := range 20000 {
			id := rng.Uint32N(span)
			// Add-heavy first, remove-heavy after: both conversions run.
			if (step < 10000) == (rng.IntN(4) != 0) {
				if got := l.Add(id); got == ref[id] {
					t.Fatalf("span %d: Add(%d) = %v with present=%v", span, id, got, ref[id])
				}
				ref[id] = true
			} else {
				if got := l.Remove(id); got != ref[id] {
					t.Fatalf("span %d: Remove(%d) = %v with present=%v", span, id, got, ref[id])
				}
				delete(ref, id)
			}
			if l.Len() != len(ref) {
				t.Fatalf("span %d: Len %d, want %d", span, l.Len(), len(ref))
			}
		}
		b := NewBits(int(span))
		l.OrInto(b)
		if b.Count() != len(ref) {
			t.Fatalf("span %d: OrInto set %d, want %d", span, b.Count(), len(ref))
		}
		var got []uint32
		for id := range b.All {
			got = append(got, uint32(id))
			if !ref[uint32(id)] || !l.Has(uint32(id)) {
				t.Fatalf("span %d: %d set but absent", span, id)
			}
		}
		if !slices.IsSorted(got) {
			t.Fatal("All not ascending")
		}
	}
}

func TestBitsOps(t *testing.T) {
	a, b := NewBits(200), NewBits(200)
	for i := uint32(0); i < 200; i += 2 {
		a.Set(i)
	}
	for i := uint32(0); i < 200; i += 3 {
		b.Set(i)
	}
	and := slices.Clone(a)
	and.And(b)
	or := slices.Clone(a)
	or.Or(b)
	not := slices.Clone(a)
	not.AndNot(b)
	for i := range uint64(200) {
		x, y := i%2 == 0, i%3 == 0
		if and.Has(i) != (x && y) || or.Has(i) != (x || y) || not.Has(i) != (x && !y) {
			t.Fatalf("id %d: and %v or %v andnot %v", i, and.Has(i), or.Has(i), not.Has(i))
		}
	}
	if a.Has(1 << 40) {
		t.Fatal("Has beyond the range")
	}
	if and.Count() != 34 || or.Count() != 133 {
		t.Fatalf("counts %d %d", and.Count(), or.Count())
	}
}
