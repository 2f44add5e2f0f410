package distance

import (
	"encoding/binary"
	"math"
	"testing"
)

// The fuzz targets reinterpret the fuzzer's bytes as two equal-length
// vectors (the first half and the second half) and compare every
// implementation with the reference. Without -fuzz they run their seed
// corpus as ordinary tests. Run one with e.g.
//
//	go test -run '^$' -fuzz '^FuzzSquaredL2$' -fuzztime 60s ./distance

func floatsFromBytes(data []byte) []float32 {
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return v
}

func halves(data []byte, size int) (a, b []byte) {
	n := len(data) / (2 * size) * size
	return data[:n], data[n : 2*n]
}

// scanFloats reports whether any value is NaN and whether all are finite.
func scanFloats(vs ...[]float32) (hasNaN, finite bool) {
	finite = true
	for _, v := range vs {
		for _, x := range v {
			hasNaN = hasNaN || x != x
			finite = finite && !math.IsInf(float64(x), 0) && x == x
		}
	}
	return hasNaN, finite
}

func seedFloats(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	for _, n := range []int{1, 3, 8, 17, 33, 100} {
		b := make([]byte, 8*n)
		for i := 0; i < 2*n; i++ {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i%13)-6.5))
		}
		f.Add(b)
	}
}

// fuzzFloat compares within tolerance when the inputs are finite and no
// partial sum can overflow. A NaN input must give NaN everywhere. Infinite
// inputs and overflowing sums are not compared: Inf-Inf is NaN in one
// summation order and the sum Inf in another.
func fuzzFloat(t *testing.T, data []byte, ref func(a, b []float32) (float64, float64), kernel func(im impl) func(a, b []float32) float32) {
	ab, bb := halves(data, 4)
	a, b := floatsFromBytes(ab), floatsFromBytes(bb)
	want, abs := ref(a, b)
	hasNaN, finite := scanFloats(a, b)
	for _, im := range implementations() {
		got := kernel(im)(a, b)
		switch {
		case hasNaN:
			if got == got {
				t.Fatalf("%s: got %v for a NaN input", im.name, got)
			}
		case finite && abs < math.MaxFloat32/2:
			checkClose(t, im.name, got, want, abs, len(a))
		}
	}
}

func FuzzSquaredL2(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFloat(t, data, refSquaredL2, func(im impl) func(a, b []float32) float32 { return im.squaredL2 })
	})
}

func FuzzDot(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFloat(t, data, refDot, func(im impl) func(a, b []float32) float32 { return im.dot })
	})
}

// FuzzBatch takes the dimension from the first byte and scores the first
// row-sized chunk of the rest against every row, through the batch and the
// gather kernels (the gather in reverse row order).
func FuzzBatch(f *testing.F) {
	f.Add(uint8(3), make([]byte, 4*3*5))
	f.Add(uint8(17), make([]byte, 4*17*6+5))
	f.Add(uint8(1), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, d uint8, data []byte) {
		dim := int(d%64) + 1
		v := floatsFromBytes(data)
		if len(v) < dim {
			return
		}
		q, data2 := v[:dim], v[dim:]
		n := len(data2) / dim
		data2 = data2[:n*dim]
		if _, finite := scanFloats(v); !finite {
			return
		}
		rows := make([]uint32, n)
		for i := range rows {
			rows[i] = uint32(n - 1 - i)
		}
		for _, im := range implementations() {
			for _, k := range []struct {
				name   string
				ref    func(a, b []float32) (float64, float64)
				batch  func(q, data []float32, dim int, out []float32)
				gather func(q, data []float32, dim int, rows []uint32, out []float32)
			}{
				{"squaredL2", refSquaredL2, im.squaredL2Batch, im.squaredL2Gather},
				{"dot", refDot, im.dotBatch, im.dotGather},
			} {
				out, gout := make([]float32, n), make([]float32, n)
				k.batch(q, data2, dim, out)
				k.gather(q, data2, dim, rows, gout)
				for i := 0; i < n; i++ {
					want, abs := k.ref(q, data2[i*dim:(i+1)*dim])
					if abs >= math.MaxFloat32/2 {
						continue
					}
					checkClose(t, im.name+" "+k.name+"Batch", out[i], want, abs, dim)
					checkClose(t, im.name+" "+k.name+"Gather", gout[n-1-i], want, abs, dim)
				}
			}
		}
	})
}

func seedBytes(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{255, 255})
	f.Add([]byte{0x80, 0x7f})
	for _, n := range []int{15, 16, 17, 31, 32, 33, 64, 100, 200} {
		b := make([]byte, 2*n)
		for i := range b {
			b[i] = byte(i * 37)
		}
		f.Add(b)
	}
}

func FuzzDotUint8(f *testing.F) {
	seedBytes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := halves(data, 1)
		want := refDotUint8(a, b)
		for _, im := range implementations() {
			if got := im.dotUint8(a, b); got != want {
				t.Fatalf("%s: got %d, want %d", im.name, got, want)
			}
		}
	})
}

func FuzzSquaredL2Uint8(f *testing.F) {
	seedBytes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := halves(data, 1)
		want := refSquaredL2Uint8(a, b)
		for _, im := range implementations() {
			if got := im.squaredL2Uint8(a, b); got != want {
				t.Fatalf("%s: got %d, want %d", im.name, got, want)
			}
		}
	})
}

func FuzzDotInt8(f *testing.F) {
	seedBytes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ab, bb := halves(data, 1)
		a, b := asInt8(ab), asInt8(bb)
		want := refDotInt8(a, b)
		for _, im := range implementations() {
			if got := im.dotInt8(a, b); got != want {
				t.Fatalf("%s: got %d, want %d", im.name, got, want)
			}
		}
	})
}

func FuzzSquaredL2Int8(f *testing.F) {
	seedBytes(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ab, bb := halves(data, 1)
		a, b := asInt8(ab), asInt8(bb)
		want := refSquaredL2Int8(a, b)
		for _, im := range implementations() {
			if got := im.squaredL2Int8(a, b); got != want {
				t.Fatalf("%s: got %d, want %d", im.name, got, want)
			}
		}
	})
}

// FuzzPQLookupSum uses the fuzz bytes as codes into a fixed table whose
// entries vary in sign and magnitude.
func FuzzPQLookupSum(f *testing.F) {
	seedBytes(f)
	const maxM = 64
	table := make([]float32, 256*maxM)
	for i := range table {
		table[i] = float32(math.Sin(float64(i))) * float32(1+i%7)
	}
	f.Fuzz(func(t *testing.T, code []byte) {
		if len(code) > maxM {
			code = code[:maxM]
		}
		want, abs := refPQ(table, code)
		for _, im := range implementations() {
			checkClose(t, im.name, im.pqLookupSum(table, code), want, abs, len(code))
			if len(code) > 0 {
				out := make([]float32, 1)
				im.pqLookupSumBatch(table, code, len(code), out)
				checkClose(t, im.name+" batch", out[0], want, abs, len(code))
			}
		}
	})
}
