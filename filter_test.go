package nearkit

import (
	"errors"
	"slices"
	"testing"
)

func TestAllowList(t *testing.T) {
	a := NewAllowList(10)
	for _, id := range []uint64{3, 3, 9, 200, 64} {
		a.Set(id)
	}
	if a.Count() != 4 {
		t.Fatalf("count %d", a.Count())
	}
	a.Clear(9)
	a.Clear(9)
	a.Clear(100000)
	var got []uint64
	for id := range a.All {
		got = append(got, id)
	}
	if !slices.Equal(got, []uint64{3, 64, 200}) || a.Count() != 3 {
		t.Fatalf("got %v count %d", got, a.Count())
	}
	if a.Allowed(9) || !a.Allowed(200) || a.Allowed(1<<40) {
		t.Fatal("Allowed wrong")
	}
}

func TestSortResultsTies(t *testing.T) {
	rs := []Result{{5, 1}, {2, 1}, {9, 0}}
	SortResults(rs)
	if !slices.Equal(rs, []Result{{9, 0}, {2, 1}, {5, 1}}) {
		t.Fatal(rs)
	}
}

func isErr(err, target error) bool { return errors.Is(err, target) }
