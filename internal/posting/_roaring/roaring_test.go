// Package roaringbench measures the collection's posting lists and
// filter bitmaps (internal/posting) against RoaringBitmap/roaring on the
// work a filtered query does: evaluating a condition into a set (one
// posting list, and a conjunction of two) and testing candidates against
// it, at the densities of the collection benchmarks. It is a nested
// module so the root module does not take roaring as a dependency.
//
//	cd internal/posting/_roaring && go test -bench . -benchtime 2000x
package roaringbench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/nearkit/nearkit/internal/posting"
)

// n is Fashion-MNIST's training set, the collection benchmarks' size.
const n = 60_000

func randomSet(rng *rand.Rand, density float64) (*posting.List, *roaring.Bitmap) {
	l, r := new(posting.List), roaring.New()
	for id := range uint32(n) {
		if rng.Float64() < density {
			l.Add(id)
			r.Add(id)
		}
	}
	r.RunOptimize()
	return l, r
}

// BenchmarkEval evaluates one posting list (op=one) and the conjunction
// of two (op=and: the list at the given density AND a 10 % list) into the
// set a query hands the index.
func BenchmarkEval(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	other, otherR := randomSet(rng, 0.10)
	for _, d := range []float64{0.5, 0.1, 0.01, 0.001} {
		l, r := randomSet(rng, d)
		b.Run(fmt.Sprintf("op=one/density=%g/impl=posting", d), func(b *testing.B) {
			for b.Loop() {
				bits := posting.NewBits(n)
				l.OrInto(bits)
			}
		})
		b.Run(fmt.Sprintf("op=one/density=%g/impl=roaring", d), func(b *testing.B) {
			for b.Loop() {
				_ = r.Clone()
			}
		})
		b.Run(fmt.Sprintf("op=and/density=%g/impl=posting", d), func(b *testing.B) {
			for b.Loop() {
				bits, o := posting.NewBits(n), posting.NewBits(n)
				l.OrInto(bits)
				other.OrInto(o)
				bits.And(o)
			}
		})
		b.Run(fmt.Sprintf("op=and/density=%g/impl=roaring", d), func(b *testing.B) {
			for b.Loop() {
				_ = roaring.And(r, otherR)
			}
		})
	}
}

// BenchmarkProbe tests 1,000 random candidates against an evaluated set,
// as the index's filtered search calls Allowed: per-candidate cost.
func BenchmarkProbe(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	probes := make([]uint32, 1000)
	for i := range probes {
		probes[i] = rng.Uint32N(n)
	}
	for _, d := range []float64{0.5, 0.1, 0.01, 0.001} {
		l, r := randomSet(rng, d)
		bits := posting.NewBits(n)
		l.OrInto(bits)
		b.Run(fmt.Sprintf("density=%g/impl=posting", d), func(b *testing.B) {
			hits := 0
			for b.Loop() {
				for _, id := range probes {
					if bits.Has(uint64(id)) {
						hits++
					}
				}
			}
			_ = hits
		})
		b.Run(fmt.Sprintf("density=%g/impl=roaring", d), func(b *testing.B) {
			hits := 0
			for b.Loop() {
				for _, id := range probes {
					if r.Contains(id) {
						hits++
					}
				}
			}
			_ = hits
		})
	}
}
