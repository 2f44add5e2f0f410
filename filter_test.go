package nearkit

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
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

// TestAllowListAnyID: any uint64 can be allowed, memory stays proportional
// to the IDs allowed, and All stays ascending across the bitset and the
// hash set.
func TestAllowListAnyID(t *testing.T) {
	for _, n := range []uint64{0, 1 << 40, math.MaxUint64} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a := NewAllowList(n)
		for _, id := range []uint64{math.MaxUint64, 1 << 40, 1<<40 + 1, 7, math.MaxUint64 - 1} {
			a.Set(id)
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 2<<20 {
			t.Fatalf("NewAllowList(%d) and five Sets allocated %d bytes", n, grew)
		}
		got := slices.Collect(a.All)
		want := []uint64{7, 1 << 40, 1<<40 + 1, math.MaxUint64 - 1, math.MaxUint64}
		if !slices.Equal(got, want) || a.Count() != 5 {
			t.Fatalf("n=%d: All = %v, Count = %d", n, got, a.Count())
		}
		if !a.Allowed(math.MaxUint64) || a.Allowed(math.MaxUint64-2) || a.Allowed(1<<41) {
			t.Fatal("Allowed wrong for large IDs")
		}
		a.Clear(math.MaxUint64)
		a.Clear(math.MaxUint64)
		if a.Allowed(math.MaxUint64) || a.Count() != 4 || len(slices.Collect(a.All)) != 4 {
			t.Fatal("Clear of a large ID")
		}
	}
}

// TestAllowListModel checks AllowList against a map under random Sets and
// Clears mixing dense, mid-range and hashed IDs, so IDs move from the hash
// set into a growing bitset.
func TestAllowListModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	a := NewAllowList(0)
	model := map[uint64]bool{}
	pick := func() uint64 {
		switch r.IntN(3) {
		case 0:
			return r.Uint64N(5000)
		case 1:
			return r.Uint64N(1 << 20)
		}
		return r.Uint64()
	}
	for i := range 20000 {
		id := pick()
		if r.IntN(4) == 0 {
			a.Clear(id)
			delete(model, id)
		} else {
			a.Set(id)
			model[id] = true
		}
		if i%997 == 0 {
			want := slices.Sorted(maps.Keys(model))
			if got := slices.Collect(a.All); !slices.Equal(got, want) {
				t.Fatalf("step %d: All differs from the model (%d vs %d IDs)", i, len(got), len(want))
			}
		}
	}
	if a.Count() != len(model) {
		t.Fatalf("Count %d, model %d", a.Count(), len(model))
	}
	for id := range model {
		if !a.Allowed(id) {
			t.Fatalf("%d not allowed", id)
		}
	}
	for range 1000 {
		if id := pick(); a.Allowed(id) != model[id] {
			t.Fatalf("Allowed(%d) = %v", id, !model[id])
		}
	}
	if words := len(a.words); words > max(denseMinWords, denseWordsPerID*a.Count()) {
		t.Fatalf("bitset of %d words for %d IDs", words, a.Count())
	}
}

// TestAllowListConcurrentAll: concurrent readers of a list just changed
// build the sorted hash-set IDs once, without a race (run with -race).
func TestAllowListConcurrentAll(t *testing.T) {
	a := NewAllowList(0)
	for i := range uint64(1000) {
		a.Set(i * 0x9E3779B97F4A7C15)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			n := 0
			for range a.All {
				n++
			}
			if n != a.Count() || !a.Allowed(0x9E3779B97F4A7C15) {
				t.Error("concurrent All or Allowed wrong")
			}
		})
	}
	wg.Wait()
	if allocs := testing.AllocsPerRun(10, func() {
		for id := range a.All {
			_ = id
		}
		a.Allowed(1 << 50)
	}); allocs != 0 {
		t.Fatalf("All and Allowed allocate %v times", allocs)
	}
}
