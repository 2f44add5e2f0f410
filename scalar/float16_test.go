package scalar

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func TestFloat16Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		v := Float16Value(uint16(h))
		if v != v {
			if back := Float16Bits(v); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x → %#04x", h, back)
			}
			continue
		}
		// The codec and the distance kernels widen identically.
		if d := distance.DotFloat16([]float32{1}, []uint16{uint16(h)}); d != v && !(math.IsInf(float64(v), 0) && d == v) {
			t.Fatalf("%#04x: codec %v, distance.DotFloat16 %v", h, v, d)
		}
		if back := Float16Bits(v); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, v, back)
		}
	}
}

func TestFloat16Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 200000 {
		// Random magnitudes over the whole half range and beyond.
		x := float32(math.Ldexp(rng.Float64()*2-1, rng.IntN(44)-27))
		h := Float16Bits(x)
		got := float64(Float16Value(h))
		if math.IsInf(got, 0) {
			if math.Abs(float64(x)) < 65520 {
				t.Fatalf("%v overflowed", x)
			}
			continue
		}
		e := math.Abs(got - float64(x))
		for _, nb := range []uint16{h - 1, h + 1} {
			if nb&0x7c00 == 0x7c00 || (h&0x7fff == 0 && nb == h-1) {
				continue
			}
			other := math.Abs(float64(Float16Value(nb)) - float64(x))
			if other < e || (other == e && h&1 == 1) {
				t.Fatalf("%v → %#04x (%v), neighbour %#04x (%v) is nearer or the even tie", x, h, got, nb, Float16Value(nb))
			}
		}
	}
	dst := make([]uint16, 2)
	if err := EncodeFloat16(dst, []float32{1, 70000}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("overflow: %v", err)
	}
	if err := EncodeFloat16(dst[:1], []float32{1, 2}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short dst: %v", err)
	}
	q := []float32{0.5, -1.25, 3}
	x := make([]uint16, 3)
	_ = EncodeFloat16(x, []float32{1, 2, -0.5})
	if d := distance.SquaredL2Float16(q, x); d != 0.25+10.5625+12.25 {
		t.Errorf("distance.SquaredL2Float16 = %v", d)
	}
	if d := distance.DotFloat16(q, x); d != 0.5-2.5-1.5 {
		t.Errorf("distance.DotFloat16 = %v", d)
	}
}

func TestDecodeFloat16Short(t *testing.T) {
	src := []uint16{Float16Bits(1), Float16Bits(-2)}
	if err := DecodeFloat16(make([]float32, 1), src); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short dst: %v", err)
	}
	dst := make([]float32, 3)
	if err := DecodeFloat16(dst, src); err != nil || dst[0] != 1 || dst[1] != -2 || dst[2] != 0 {
		t.Errorf("DecodeFloat16 = %v, %v", dst, err)
	}
}
