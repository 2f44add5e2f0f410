package scalar

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestSQ8Hostile: saved codecs survive truncation and bit flips within
// budget, and every checked method refuses short, nil and non-finite
// arguments with the matching sentinel.
func TestSQ8Hostile(t *testing.T) {
	const dim = 8
	r := rand.New(rand.NewPCG(2, 3))
	data := make([]float32, 200*dim)
	for i := range data {
		data[i] = r.Float32()
	}
	for _, metric := range []distance.Metric{distance.L2, distance.Cosine} {
		s, err := NewSQ8(SQ8Config{Dim: dim, Metric: metric})
		if err != nil {
			t.Fatal(err)
		}
		code := make([]uint8, dim)
		if _, err := s.DistanceCodes(code, code); !errors.Is(err, nearkit.ErrNotTrained) {
			t.Fatalf("untrained DistanceCodes: %v", err)
		}
		if err := s.Train(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := s.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		read := func(r io.Reader) error { _, err := ReadSQ8(r); return err }
		budget := attack.Budget{PerByte: 8, Fixed: 10 << 20}
		attack.Stream(t, read, buf.Bytes(), budget, 150, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
		attack.Counts(t, read, buf.Bytes(), []attack.Field{{Name: "dim", At: 12, Width: 4}}, nil, budget, nearkit.ErrCorrupt, nearkit.ErrIncompatible)

		nan := append([]float32{float32(math.NaN())}, data[1:dim]...)
		for what, err := range map[string]error{
			"Encode NaN":          s.Encode(code, nan),
			"Encode short code":   s.Encode(code[:2], data[:dim]),
			"Encode short vector": s.Encode(code, data[:2]),
			"Decode nil":          s.Decode(nil, code),
			"Decode short code":   s.Decode(make([]float32, dim), code[:1]),
		} {
			if !errors.Is(err, nearkit.ErrDimension) && !errors.Is(err, nearkit.ErrInvalidVector) {
				t.Fatalf("%v %s: %v", metric, what, err)
			}
		}
		if _, err := s.DistanceCodes(code, nil); !errors.Is(err, nearkit.ErrDimension) {
			t.Fatalf("DistanceCodes nil: %v", err)
		}
		if _, err := s.Lossless(code[:1], data[:dim]); !errors.Is(err, nearkit.ErrDimension) {
			t.Fatalf("Lossless short: %v", err)
		}
		var q SQ8Query
		if err := s.PrepareQuery(&q, nan); !errors.Is(err, nearkit.ErrInvalidVector) {
			t.Fatalf("PrepareQuery NaN: %v", err)
		}
		if err := s.PrepareQuery(&q, data[:dim]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Distance(&q, code[:3]); !errors.Is(err, nearkit.ErrDimension) {
			t.Fatalf("Distance short: %v", err)
		}
		if err := s.Train(context.Background(), nan); !errors.Is(err, nearkit.ErrInvalidVector) {
			t.Fatalf("Train NaN: %v", err)
		}
	}
}
