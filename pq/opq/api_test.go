package opq

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/pq"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error, panics as documented (the unchecked Rotate), or answers
// correctly. A new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	const dim, n, m = 8, 600, 4
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	data := attack.Vectors(n)
	v := data[:dim]
	nan := append([]float32{float32(math.NaN())}, v[1:]...)
	inf := append([]float32{float32(math.Inf(1))}, v[1:]...)
	cfg := Config{PQ: pq.Config{Dim: dim, M: m, NBits: 4, Seed: 1, Iterations: 2}, Iterations: 2, FirstPQIterations: 2}
	untrained := func() *Quantizer { o, _ := New(cfg); return o }
	o := untrained()
	if err := o.Train(ctx, data); err != nil {
		t.Fatal(err)
	}
	code := make([]byte, o.CodeSize())
	if err := o.Encode(code, v); err != nil {
		t.Fatal(err)
	}
	vectorCases := func(t *testing.T, name string, f func(v []float32) error) {
		for what, bad := range map[string][]float32{"nil": nil, "short": v[:3], "long": data[:dim+1]} {
			attack.Must(t, name+" of a "+what+" vector", f(bad), nearkit.ErrDimension)
		}
		attack.Must(t, name+" of NaN", f(nan), nearkit.ErrInvalidVector)
		attack.Must(t, name+" of Inf", f(inf), nearkit.ErrInvalidVector)
	}
	batchCases := func(t *testing.T, name string, f func(data []float32) error) {
		attack.Must(t, name+" of a ragged batch", f(data[:dim+1]), nearkit.ErrDimension)
		attack.Must(t, name+" with NaN", f(append(data[:dim:dim], nan...)), nearkit.ErrInvalidVector)
		attack.Must(t, name+" with Inf", f(append(data[:dim:dim], inf...)), nearkit.ErrInvalidVector)
	}
	// huge holds finite coordinates whose squared norm overflows float32.
	huge := make([]float32, len(data))
	for i, x := range data {
		huge[i] = 3e38 * (x - 0.5)
	}
	cases := attack.Cases{
		"New": func(t *testing.T) {
			for _, c := range []Config{{}, {PQ: pq.Config{Dim: 8, M: 3}}, {PQ: pq.Config{Dim: -8, M: 4}}, {PQ: pq.Config{Dim: math.MaxInt, M: 1}},
				{PQ: pq.Config{Dim: 8, M: 4, NBits: 17}}, {PQ: pq.Config{Dim: 8, M: 4}, Iterations: -1}, {PQ: pq.Config{Dim: 8, M: 4}, PQIterations: -1},
				{PQ: pq.Config{Dim: 8, M: 4}, FirstPQIterations: math.MinInt}, {PQ: pq.Config{Dim: 8, M: 4}, MaxTrainPoints: -1}} {
				_, err := New(c)
				attack.Must(t, "New with a bad config", err, nearkit.ErrInvalidConfig)
			}
		},
		"Read": func(t *testing.T) {
			_, err := Read(bytes.NewReader(nil))
			attack.Must(t, "Read of nothing", err, nearkit.ErrCorrupt)
			_, err = Read(bytes.NewReader([]byte("NKPQ\x00\x00\x00\x00\x02\x00\x00\x00")))
			attack.Must(t, "Read of another format", err, nearkit.ErrIncompatible)
		},
		"Quantizer.Train": func(t *testing.T) {
			u := untrained()
			vectorCases(t, "Train", func(v []float32) error {
				if v == nil {
					return errors.Join(nearkit.ErrDimension, u.Train(ctx, v)) // nil is ErrEmpty
				}
				return u.Train(ctx, v)
			})
			batchCases(t, "Train", func(d []float32) error { return u.Train(ctx, d) })
			attack.Must(t, "Train on nothing", u.Train(ctx, nil), nearkit.ErrEmpty)
			attack.Must(t, "Train on fewer vectors than centroids", u.Train(ctx, data[:dim*15]), nearkit.ErrEmpty)
			attack.Must(t, "Train cancelled", u.Train(cancelled, data), context.Canceled)
			attack.Must(t, "Train on overflowing norms", u.Train(ctx, huge), nearkit.ErrInvalidVector)
			attack.Calls++
			if u.Trained() || u.Rotation() != nil {
				t.Error("a failed Train left the quantizer trained")
			}
		},
		"Quantizer.Encode": func(t *testing.T) {
			attack.Must(t, "Encode untrained", untrained().Encode(code, v), nearkit.ErrNotTrained)
			vectorCases(t, "Encode", func(v []float32) error { return o.Encode(code, v) })
			attack.Must(t, "Encode into a short code", o.Encode(code[:1], v), nearkit.ErrDimension)
			attack.Must(t, "Encode into nil", o.Encode(nil, v), nearkit.ErrDimension)
			attack.Must(t, "Encode of an overflowing norm", o.Encode(code, huge[:dim]), nearkit.ErrInvalidVector)
		},
		"Quantizer.EncodeBatch": func(t *testing.T) {
			dst := make([]byte, n*o.CodeSize())
			attack.Must(t, "EncodeBatch untrained", untrained().EncodeBatch(ctx, dst, data), nearkit.ErrNotTrained)
			batchCases(t, "EncodeBatch", func(d []float32) error { return o.EncodeBatch(ctx, dst, d) })
			attack.Must(t, "EncodeBatch into a short dst", o.EncodeBatch(ctx, dst[:5], data), nearkit.ErrDimension)
			attack.Must(t, "EncodeBatch into nil", o.EncodeBatch(ctx, nil, data), nearkit.ErrDimension)
			attack.Must(t, "EncodeBatch cancelled", o.EncodeBatch(cancelled, dst, data), context.Canceled)
			attack.Must(t, "EncodeBatch of overflowing norms", o.EncodeBatch(ctx, dst, huge), nearkit.ErrInvalidVector)
		},
		"Quantizer.Decode": func(t *testing.T) {
			attack.Must(t, "Decode untrained", untrained().Decode(make([]float32, dim), code), nearkit.ErrNotTrained)
			attack.Must(t, "Decode into nil", o.Decode(nil, code), nearkit.ErrDimension)
			attack.Must(t, "Decode into a short dst", o.Decode(make([]float32, dim-1), code), nearkit.ErrDimension)
			attack.Must(t, "Decode of a short code", o.Decode(make([]float32, dim), code[:1]), nearkit.ErrDimension)
			attack.Must(t, "Decode of nil", o.Decode(make([]float32, dim), nil), nearkit.ErrDimension)
		},
		"Quantizer.LookupTable": func(t *testing.T) {
			_, err := untrained().LookupTable(nil, v)
			attack.Must(t, "LookupTable untrained", err, nearkit.ErrNotTrained)
			vectorCases(t, "LookupTable", func(q []float32) error { _, err := o.LookupTable(nil, q); return err })
			_, err = o.LookupTable(nil, huge[:dim])
			attack.Must(t, "LookupTable of an overflowing norm", err, nearkit.ErrInvalidVector)
		},
		"Quantizer.ReconstructionError": func(t *testing.T) {
			_, err := untrained().ReconstructionError(v)
			attack.Must(t, "ReconstructionError untrained", err, nearkit.ErrNotTrained)
			batchCases(t, "ReconstructionError", func(d []float32) error { _, err := o.ReconstructionError(d); return err })
			_, err = o.ReconstructionError(huge)
			attack.Must(t, "ReconstructionError of overflowing norms", err, nearkit.ErrInvalidVector)
		},
		"Quantizer.Rotate": func(t *testing.T) {
			y := make([]float32, dim)
			attack.Panics(t, "Rotate untrained", func() { untrained().Rotate(y, v) })
			attack.Panics(t, "Rotate into a short dst", func() { o.Rotate(y[:3], v) })
			attack.Panics(t, "Rotate of a short vector", func() { o.Rotate(y, v[:3]) })
		},
		"Quantizer.Rotation": func(t *testing.T) {
			attack.Calls += 2
			if untrained().Rotation() != nil {
				t.Error("Rotation of an untrained quantizer")
			}
			r := o.Rotation()
			r[0] = float32(math.NaN()) // a copy: the quantizer is unchanged
			if math.IsNaN(float64(o.Rotation()[0])) {
				t.Error("Rotation returns the quantizer's own slice")
			}
		},
		"Quantizer.WriteTo": func(t *testing.T) {
			attack.Calls++
			var b bytes.Buffer
			if _, err := untrained().WriteTo(&b); err != nil {
				t.Errorf("WriteTo of an untrained quantizer: %v", err)
			}
			if u, err := Read(&b); err != nil || u.Trained() {
				t.Errorf("untrained round trip: trained %v, %v", u != nil && u.Trained(), err)
			}
		},
		"Quantizer.Config":   func(t *testing.T) { accessors(t, o, untrained()) },
		"Quantizer.Dim":      func(t *testing.T) { accessors(t, o, untrained()) },
		"Quantizer.CodeSize": func(t *testing.T) { accessors(t, o, untrained()) },
		"Quantizer.Trained":  func(t *testing.T) { accessors(t, o, untrained()) },
		"Quantizer.PQ":       func(t *testing.T) { accessors(t, o, untrained()) },
	}
	ran := cases.Run(t, ".")
	t.Logf("%d cases, %d hostile calls", ran, attack.Calls)
}

// accessors checks the accessors of a trained and an untrained quantizer.
func accessors(t *testing.T, o, u *Quantizer) {
	attack.Calls++
	for _, q := range []*Quantizer{o, u} {
		if q.Dim() != 8 || q.CodeSize() != 2 || q.PQ() == nil || q.PQ().Dim() != q.Dim() || q.Config().PQ.Dim != q.Dim() || q.Config().Iterations <= 0 {
			t.Errorf("accessors: dim %d code %d config %+v", q.Dim(), q.CodeSize(), q.Config())
		}
	}
	if !o.Trained() || u.Trained() || !o.PQ().Trained() {
		t.Error("Trained")
	}
}
