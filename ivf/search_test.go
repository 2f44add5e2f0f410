package ivf

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestAddVec(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 4096, 4099} {
		a, b, dst := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(i), float32(3*i+1)
		}
		addVec(dst, a, b)
		for i, d := range dst {
			if d != float32(4*i+1) {
				t.Fatalf("n %d: dst[%d] = %v", n, i, d)
			}
		}
	}
}

// TestFastScanOffer checks that the four-lane threshold of offerSWAR
// keeps exactly the candidates the one-by-one offer keeps, for heaps that
// fill and tighten during the chunk, sums near the 2¹⁵ limit, and padding
// entries past cnt that must never enter.
func TestFastScanOffer(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		nb := 1 + rng.IntN(4)
		n := nb * 32
		cnt := n - rng.IntN(32)
		sums := make([]uint16, n)
		top := 1 + rng.IntN(0x7fff)
		for i := range sums {
			sums[i] = uint16(rng.IntN(top))
		}
		if trial%7 == 0 {
			// Many ties, and padding sums smaller than any real one.
			for i := range sums {
				sums[i] = uint16(rng.IntN(4))
			}
			for i := cnt; i < n; i++ {
				sums[i] = 0
			}
		}
		l := &list{ids: make([]uint64, 32+cnt)} // the chunk starts at entry 32
		for i := range l.ids {
			l.ids[i] = uint64(rng.IntN(1000))
		}
		k := 1 + rng.IntN(40)
		scale := float32(0.01 + rng.Float64()*100)
		var a, b topk
		a.reset(k)
		b.reset(k)
		// Some candidates from earlier lists, so that the bound is set
		// before the chunk.
		for range rng.IntN(2 * k) {
			c := cand{d: float32(rng.Float64() * 200), id: uint64(rng.IntN(1000))}
			a.push(c)
			b.push(c)
		}
		bias := float32(rng.Float64() * 10)
		fa := fsScan{t: &a, l: l, li: 1, lo: 32, bias: bias, scale: scale, inv: 1 / scale}
		fb := fa
		fb.t = &b
		fa.offer(sums[:cnt])
		fb.offerSWAR(sums, cnt)
		ga, gb := a.sorted(), b.sorted()
		if !slices.Equal(ga, gb) {
			t.Fatalf("trial %d (k %d, cnt %d, scale %v): offer kept %v, offerSWAR %v", trial, k, cnt, scale, ga, gb)
		}
	}
}

// TestTableMins compares tableMins with a plain reference.
func TestTableMins(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, m := range []int{1, 2, 7, 16, 56} {
		tab := make([]float32, m*16)
		for i := range tab {
			tab[i] = float32(rng.NormFloat64() * 10)
		}
		mins := make([]float32, m)
		r, sum := tableMins(tab, mins)
		var wr, ws float32
		for s := range m {
			ts := tab[s*16 : (s+1)*16]
			lo, hi := slices.Min(ts), slices.Max(ts)
			if mins[s] != lo {
				t.Fatalf("m %d: min of subtable %d = %v, want %v", m, s, mins[s], lo)
			}
			ws += lo
			wr = max(wr, hi-lo)
		}
		if r != wr || sum != ws {
			t.Fatalf("m %d: range %v sum %v, want %v %v", m, r, sum, wr, ws)
		}
	}
}
