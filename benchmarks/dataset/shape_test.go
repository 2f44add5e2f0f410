package dataset

import (
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit/distance"
)

// TestMeasureShapeLID: points filling a 4-d cube inside 16 dimensions have
// a local intrinsic dimensionality near 4 whatever the ambient one, and a
// 12-d cube's is about three times larger.
func TestMeasureShapeLID(t *testing.T) {
	cube := func(intrinsic int) []float32 {
		r := rand.New(rand.NewPCG(uint64(intrinsic), 1))
		data := make([]float32, 4000*16)
		for i := range 4000 {
			for j := range intrinsic {
				data[i*16+j] = r.Float32()
			}
		}
		return data
	}
	low, high := cube(4), cube(12)
	s4 := MeasureShape(low[16*100:], low[:16*100], 16, distance.L2, 100, 20)
	s12 := MeasureShape(high[16*100:], high[:16*100], 16, distance.L2, 100, 20)
	t.Logf("4-d cube %+v, 12-d cube %+v", s4, s12)
	if s4.Queries != 100 || s4.LID < 3 || s4.LID > 5.5 || s12.LID < 2*s4.LID {
		t.Fatalf("LID %.2f (4-d) and %.2f (12-d)", s4.LID, s12.LID)
	}
	if s4.RelativeContrast <= s12.RelativeContrast || s12.RelativeContrast <= 1 {
		t.Fatalf("contrast %.2f (4-d) and %.2f (12-d)", s4.RelativeContrast, s12.RelativeContrast)
	}
	// Cosine measures on directions: scaling a vector changes nothing.
	scaled := append([]float32(nil), low...)
	for i := range scaled {
		scaled[i] *= float32(1 + i/16%7)
	}
	a := MeasureShape(low[16*100:], low[:16*100], 16, distance.Cosine, 50, 20)
	b := MeasureShape(scaled[16*100:], scaled[:16*100], 16, distance.Cosine, 50, 20)
	if d := a.LID - b.LID; d > 1e-6 || d < -1e-6 {
		t.Fatalf("cosine LID %v then %v after scaling", a.LID, b.LID)
	}
	if z := MeasureShape(low, low[:16], 16, distance.L2, 1, 0); z.Queries != 0 {
		t.Fatalf("k=0 measured %+v", z)
	}
}
