package pq

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error (checked methods), panics as documented (unchecked fast paths,
// named or documented so), or answers correctly — never reads or writes
// out of bounds silently. A new exported function without a case here
// fails the test.
func TestAPIHostile(t *testing.T) {
	const dim, n, m = 8, 600, 4
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	data := attack.Vectors(n)
	v := data[:dim]
	nan := append([]float32{float32(math.NaN())}, v[1:]...)
	inf := append([]float32{float32(math.Inf(1))}, v[1:]...)
	trained := func(t *testing.T, nbits int) *ProductQuantizer {
		p, err := New(Config{Dim: dim, M: m, NBits: nbits, Seed: 1, Iterations: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Train(ctx, data); err != nil {
			t.Fatal(err)
		}
		return p
	}
	untrained := func() *ProductQuantizer { p, _ := New(Config{Dim: dim, M: m, NBits: 4}); return p }
	p4 := trained(t, 4)
	code := make([]byte, p4.CodeSize())
	if err := p4.Encode(code, v); err != nil {
		t.Fatal(err)
	}
	table, err := p4.LookupTable(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	np := FastScanPairs(m)
	blk := make([]byte, 32*np)
	lut := make([]byte, 32*np)
	mins := make([]float32, m)
	// vectorCases checks a method taking one vector.
	vectorCases := func(t *testing.T, name string, f func(v []float32) error) {
		for what, bad := range map[string][]float32{"nil": nil, "short": v[:3], "long": data[:dim+1]} {
			attack.Must(t, name+" of a "+what+" vector", f(bad), nearkit.ErrDimension)
		}
		attack.Must(t, name+" of NaN", f(nan), nearkit.ErrInvalidVector)
		attack.Must(t, name+" of Inf", f(inf), nearkit.ErrInvalidVector)
	}
	batchCases := func(t *testing.T, name string, f func(ctx context.Context, data []float32) error) {
		attack.Must(t, name+" of a ragged batch", f(ctx, data[:dim+1]), nearkit.ErrDimension)
		attack.Must(t, name+" with NaN", f(ctx, append(data[:dim:dim], nan...)), nearkit.ErrInvalidVector)
		attack.Must(t, name+" cancelled", f(cancelled, data), context.Canceled)
	}
	cases := attack.Cases{
		"New": func(t *testing.T) {
			for _, cfg := range []Config{{}, {Dim: 8, M: 3}, {Dim: 8, M: 0}, {Dim: 8, M: -1}, {Dim: 8, M: 4, NBits: 17}, {Dim: 8, M: 4, NBits: -1},
				{Dim: -8, M: 4}, {Dim: math.MaxInt, M: 1}, {Dim: 8, M: 4, Metric: 99}, {Dim: 8, M: 4, Iterations: -1}} {
				_, err := New(cfg)
				attack.Must(t, "New with a bad config", err, nearkit.ErrInvalidConfig)
			}
		},
		"Read": func(t *testing.T) {
			_, err := Read(bytes.NewReader(nil))
			attack.Must(t, "Read of nothing", err, nearkit.ErrCorrupt)
		},
		"ProductQuantizer.Config": func(t *testing.T) {
			attack.Calls++
			if c := untrained().Config(); c.Dim != dim || c.M != m {
				t.Errorf("Config of an untrained quantizer: %+v", c)
			}
		},
		"ProductQuantizer.Retrain": func(t *testing.T) {
			p := untrained()
			batchCases(t, "Retrain", func(ctx context.Context, d []float32) error { _, err := p.Retrain(ctx, d, 1); return err })
			_, err := p4.Retrain(ctx, data, -1)
			attack.Must(t, "Retrain with negative iterations", err, nearkit.ErrInvalidConfig)
			_, err = p4.Retrain(ctx, nil, 1)
			attack.Must(t, "Retrain on nothing", err, nearkit.ErrEmpty)
		},
		"FromCentroids": func(t *testing.T) {
			c := p4.Centroids()
			_, err := FromCentroids(Config{Dim: dim, M: 3, NBits: 4}, c)
			attack.Must(t, "FromCentroids with a bad config", err, nearkit.ErrInvalidConfig)
			_, err = FromCentroids(p4.Config(), c[:len(c)-1])
			attack.Must(t, "FromCentroids of short codebooks", err, nearkit.ErrDimension)
			_, err = FromCentroids(p4.Config(), nil)
			attack.Must(t, "FromCentroids of nil", err, nearkit.ErrDimension)
			bad := append([]float32(nil), c...)
			bad[5] = float32(math.NaN())
			_, err = FromCentroids(p4.Config(), bad)
			attack.Must(t, "FromCentroids with NaN", err, nearkit.ErrInvalidVector)
			bad[5] = float32(math.Inf(-1))
			_, err = FromCentroids(p4.Config(), bad)
			attack.Must(t, "FromCentroids with -Inf", err, nearkit.ErrInvalidVector)
		},
		"ProductQuantizer.Train": func(t *testing.T) {
			p := untrained()
			vectorCases(t, "Train", func(v []float32) error {
				if v == nil {
					return errors.Join(nearkit.ErrDimension, p.Train(ctx, v)) // nil is ErrEmpty
				}
				return p.Train(ctx, v)
			})
			batchCases(t, "Train", p.Train)
			attack.Must(t, "Train on nothing", p.Train(ctx, nil), nearkit.ErrEmpty)
		},
		"ProductQuantizer.Encode": func(t *testing.T) {
			attack.Must(t, "Encode untrained", untrained().Encode(code, v), nearkit.ErrNotTrained)
			vectorCases(t, "Encode", func(v []float32) error { return p4.Encode(code, v) })
			attack.Must(t, "Encode into a short code", p4.Encode(code[:1], v), nearkit.ErrDimension)
			attack.Must(t, "Encode into nil", p4.Encode(nil, v), nearkit.ErrDimension)
		},
		"ProductQuantizer.EncodeBatch": func(t *testing.T) {
			dst := make([]byte, n*p4.CodeSize())
			batchCases(t, "EncodeBatch", func(ctx context.Context, d []float32) error { return p4.EncodeBatch(ctx, dst, d) })
			attack.Must(t, "EncodeBatch into a short dst", p4.EncodeBatch(ctx, dst[:5], data), nearkit.ErrDimension)
			attack.Must(t, "EncodeBatch untrained", untrained().EncodeBatch(ctx, dst, data), nearkit.ErrNotTrained)
		},
		"ProductQuantizer.Decode": func(t *testing.T) {
			attack.Must(t, "Decode untrained", untrained().Decode(make([]float32, dim), code), nearkit.ErrNotTrained)
			attack.Must(t, "Decode into nil", p4.Decode(nil, code), nearkit.ErrDimension)
			attack.Must(t, "Decode of a short code", p4.Decode(make([]float32, dim), code[:1]), nearkit.ErrDimension)
			attack.Must(t, "Decode of nil", p4.Decode(make([]float32, dim), nil), nearkit.ErrDimension)
		},
		"ProductQuantizer.LookupTable": func(t *testing.T) {
			_, err := untrained().LookupTable(nil, v)
			attack.Must(t, "LookupTable untrained", err, nearkit.ErrNotTrained)
			vectorCases(t, "LookupTable", func(q []float32) error { _, err := p4.LookupTable(nil, q); return err })
		},
		"ProductQuantizer.ReconstructionError": func(t *testing.T) {
			batchCases(t, "ReconstructionError", func(ctx context.Context, d []float32) error {
				if ctx != context.Background() {
					return context.Canceled // takes no context
				}
				_, err := p4.ReconstructionError(d)
				return err
			})
			_, err := untrained().ReconstructionError(v)
			attack.Must(t, "ReconstructionError untrained", err, nearkit.ErrNotTrained)
		},
		"ProductQuantizer.SymmetricDistance": func(t *testing.T) {
			_, err := untrained().SymmetricDistance(code, code)
			attack.Must(t, "SymmetricDistance untrained", err, nearkit.ErrNotTrained)
			for what, pair := range map[string][2][]byte{"short": {code, code[:1]}, "nil": {nil, code}} {
				_, err := p4.SymmetricDistance(pair[0], pair[1])
				attack.Must(t, "SymmetricDistance of a "+what+" code", err, nearkit.ErrDimension)
			}
		},
		"ProductQuantizer.SymmetricDistanceUnchecked": func(t *testing.T) {
			attack.Panics(t, "SymmetricDistanceUnchecked of a short code", func() { p4.SymmetricDistanceUnchecked(code, code[:1]) })
		},
		"ProductQuantizer.Distance": func(t *testing.T) {
			attack.Panics(t, "Distance of a short code", func() { p4.Distance(table, code[:1]) })
			attack.Panics(t, "Distance with a short table", func() { p4.Distance(table[:3], code) })
		},
		"ProductQuantizer.Distances": func(t *testing.T) {
			attack.Panics(t, "Distances with a short out", func() { p4.Distances(table, append(code, code...), make([]float32, 1)) })
			attack.Panics(t, "Distances of a ragged code list", func() { p4.Distances(table, append(code, 1), make([]float32, 2)) })
		},
		"ProductQuantizer.Centroids": func(t *testing.T) {
			attack.Calls += 2
			if untrained().Centroids() != nil && len(untrained().Centroids()) != 0 {
				t.Error("Centroids of an untrained quantizer")
			}
			c := p4.Centroids()
			c[0] = float32(math.NaN()) // a copy: the quantizer is unchanged
			if math.IsNaN(float64(p4.Centroids()[0])) {
				t.Error("Centroids returns the quantizer's own slice")
			}
		},
		"ProductQuantizer.WriteTo": func(t *testing.T) {
			var b bytes.Buffer
			attack.Calls++
			if _, err := untrained().WriteTo(&b); err != nil {
				t.Errorf("WriteTo of an untrained quantizer: %v", err)
			}
		},
		"ProductQuantizer.CodeSize":  func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.Dim":       func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.M":         func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.NBits":     func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.Metric":    func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.TableSize": func(t *testing.T) { accessors(t, p4, untrained()) },
		"ProductQuantizer.Trained":   func(t *testing.T) { accessors(t, p4, untrained()) },
		"NewFastScan": func(t *testing.T) {
			_, err := NewFastScan(untrained())
			attack.Must(t, "NewFastScan untrained", err, nearkit.ErrNotTrained)
			_, err = NewFastScan(trained(t, 8))
			attack.Must(t, "NewFastScan of 8-bit codes", err, nearkit.ErrInvalidConfig)
			attack.Calls++
			if _, err := NewFastScan(nil); err == nil {
				t.Error("NewFastScan(nil): no error")
			}
		},
		"FastScan.Add": func(t *testing.T) {
			f, _ := NewFastScan(p4)
			attack.Must(t, "FastScan.Add of a ragged code list", f.Add(append(code, 1)), nearkit.ErrDimension)
			attack.Must(t, "FastScan.Add of nothing", f.Add(nil), nil)
		},
		"FastScan.Len": func(t *testing.T) {
			f, _ := NewFastScan(p4)
			attack.Calls++
			if f.Len() != 0 {
				t.Error("Len of an empty store")
			}
		},
		"FastScan.Search": func(t *testing.T) {
			f, _ := NewFastScan(p4)
			_, err := f.Search(nil, v, 5, 0)
			attack.Calls++
			if err != nil && !errors.Is(err, nearkit.ErrEmpty) {
				t.Errorf("Search of an empty store: %v", err)
			}
			codes := make([]byte, 100*p4.CodeSize())
			p4.EncodeBatch(ctx, codes, data[:100*dim])
			f.Add(codes)
			vectorCases(t, "FastScan.Search", func(q []float32) error { _, err := f.Search(nil, q, 5, 0); return err })
			for _, k := range []int{0, -1, math.MinInt} {
				_, err := f.Search(nil, v, k, 0)
				attack.Must(t, "FastScan.Search bad k", err, nearkit.ErrInvalidK)
			}
			for _, k := range []int{1 << 40, math.MaxInt} {
				for _, rerank := range []int{-1, 0, math.MaxInt} {
					attack.Bounded(t, "FastScan.Search huge k", func() {
						res, err := f.Search(nil, v, k, rerank)
						if err == nil && len(res) != 100 {
							t.Errorf("k=%d rerank=%d: %d results", k, rerank, len(res))
						}
					})
				}
			}
		},
		"FastScanPairs": func(t *testing.T) {
			attack.Calls++
			if FastScanPairs(1) != 2 || FastScanPairs(0) != 0 {
				t.Error("FastScanPairs")
			}
		},
		"FastScanImplementation": func(t *testing.T) {
			attack.Calls++
			if FastScanImplementation() == "" {
				t.Error("no implementation name")
			}
		},
		"PackFastScanCode": func(t *testing.T) {
			attack.Panics(t, "PackFastScanCode into a short block", func() { PackFastScanCode(blk[:5], m, 31, code) })
			attack.Panics(t, "PackFastScanCode of entry 32", func() { PackFastScanCode(blk, m, 32, code) })
			attack.Panics(t, "PackFastScanCode of a short code", func() { PackFastScanCode(blk, m, 0, code[:1]) })
		},
		"UnpackFastScanCode": func(t *testing.T) {
			attack.Panics(t, "UnpackFastScanCode of a short block", func() { UnpackFastScanCode(code, blk[:5], m, 31) })
			attack.Panics(t, "UnpackFastScanCode into a short code", func() { UnpackFastScanCode(code[:1], blk, m, 0) })
		},
		"FastScanEntryDistance": func(t *testing.T) {
			attack.Panics(t, "FastScanEntryDistance with a short table", func() { FastScanEntryDistance(table[:3], blk, m, 0) })
			attack.Panics(t, "FastScanEntryDistance of a short block", func() { FastScanEntryDistance(table, blk[:5], m, 31) })
		},
		"QuantizeFastScanLUT": func(t *testing.T) {
			attack.Panics(t, "QuantizeFastScanLUT into a short dst", func() { QuantizeFastScanLUT(lut[:5], table, m, mins, 1) })
			attack.Panics(t, "QuantizeFastScanLUT with short mins", func() { QuantizeFastScanLUT(lut, table, m, mins[:1], 1) })
			attack.Panics(t, "QuantizeFastScanLUT of a short table", func() { QuantizeFastScanLUT(lut, table[:3], m, mins, 1) })
		},
		"FastScanBlocks": func(t *testing.T) {
			out := make([]uint16, 32)
			attack.Panics(t, "FastScanBlocks into a short out", func() { FastScanBlocks(blk, lut, np, 1, out[:5]) })
			attack.Panics(t, "FastScanBlocks of short codes", func() { FastScanBlocks(blk[:5], lut, np, 1, out) })
			attack.Panics(t, "FastScanBlocks with a short table", func() { FastScanBlocks(blk, lut[:5], np, 1, out) })
		},
	}
	before := attack.Calls
	cases.Run(t, ".")
	t.Logf("%d hostile calls", attack.Calls-before)
}

// accessors checks the accessors of a trained and an untrained quantizer.
func accessors(t *testing.T, p, u *ProductQuantizer) {
	attack.Calls++
	for _, q := range []*ProductQuantizer{p, u} {
		if q.Dim() <= 0 || q.M() <= 0 || q.NBits() <= 0 || q.CodeSize() <= 0 || q.TableSize() <= 0 || !q.Metric().Valid() || q.Metric() != distance.L2 {
			t.Errorf("accessors: dim %d M %d bits %d code %d table %d %v", q.Dim(), q.M(), q.NBits(), q.CodeSize(), q.TableSize(), q.Metric())
		}
	}
	if !p.Trained() || u.Trained() {
		t.Error("Trained")
	}
}
