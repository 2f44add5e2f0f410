package heap

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMaxBoundedKeepsKNearest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := rng.IntN(300)
		k := 1 + rng.IntN(40)
		all := make([]Item, n)
		var h Max
		for i := range all {
			// Few distinct distances, so ties are exercised.
			all[i] = Item{Dist: float32(rng.IntN(20)), ID: uint32(i)}
			h.PushBounded(all[i], k)
		}
		slices.SortFunc(all, func(a, b Item) int {
			if less(a, b) {
				return -1
			}
			if less(b, a) {
				return 1
			}
			return 0
		})
		want := all[:min(k, n)]
		got := h.DrainSorted(nil)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: got %v want %v", trial, got, want)
		}
	}
}

func TestMinPopsAscending(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h Min
	var ref []float32
	for range 1000 {
		if rng.IntN(3) == 0 && h.Len() > 0 {
			got := h.Pop().Dist
			slices.Sort(ref)
			if got != ref[0] {
				t.Fatalf("pop %v want %v", got, ref[0])
			}
			ref = ref[1:]
			continue
		}
		d := rng.Float32()
		h.Push(Item{Dist: d})
		ref = append(ref, d)
	}
}

func TestNoAllocsSteadyState(t *testing.T) {
	var h Max
	var m Min
	for i := range 64 {
		h.Push(Item{Dist: float32(i)})
		m.Push(Item{Dist: float32(i)})
	}
	h.Reset()
	m.Reset()
	allocs := testing.AllocsPerRun(100, func() {
		for i := range 64 {
			h.PushBounded(Item{Dist: float32(i % 7), ID: uint32(i)}, 10)
			m.Push(Item{Dist: float32(i)})
		}
		for m.Len() > 0 {
			m.Pop()
		}
		h.Reset()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per run", allocs)
	}
}
