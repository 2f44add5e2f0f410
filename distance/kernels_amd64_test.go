//go:build gc && !purego

package distance

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDispatch checks that the feature bools, the registry and
// Implementation agree, under every GODEBUG=cpu.* setting CI runs.
func TestDispatch(t *testing.T) {
	if useAVX512 && !useAVX2 {
		t.Fatal("useAVX512 without useAVX2")
	}
	want := "generic"
	switch {
	case useAVX512:
		want = "avx512"
	case useAVX2:
		want = "avx2"
	}
	if got := Implementation(); got != want {
		t.Fatalf("Implementation() = %q, want %q", got, want)
	}
	ims := implementations()
	if last := ims[len(ims)-1].name; last != want {
		t.Fatalf("last registered implementation is %q, want the dispatched %q", last, want)
	}
}

// BenchmarkSmallDims runs SquaredL2 at the small dimensions where plain Go
// could beat a non-inlined assembly call (it does not on this machine).
func BenchmarkSmallDims(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range implementations() {
		for _, dim := range []int{4, 8, 12, 16, 24, 32, 48, 64} {
			q, base := randFloats(r, dim), randFloats(r, benchBase*dim)
			b.Run(fmt.Sprintf("impl=%s/dim=%d", im.name, dim), func(b *testing.B) {
				var s float32
				i := 0
				for b.Loop() {
					s += im.squaredL2(q, base[i*dim:(i+1)*dim])
					i = (i + 1) % benchBase
				}
				sinkF = s
				reportElems(b, dim)
			})
		}
	}
}
