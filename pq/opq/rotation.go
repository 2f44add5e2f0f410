package opq

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// sampleRows returns m rows of data drawn without replacement.
func sampleRows(rng *rand.Rand, data []float32, d, m int) []float32 {
	n := len(data) / d
	perm := rng.Perm(n)[:m]
	out := make([]float32, m*d)
	for i, p := range perm {
		copy(out[i*d:(i+1)*d], data[p*d:(p+1)*d])
	}
	return out
}

func identity(d int) []float32 {
	r := make([]float32, d*d)
	for i := range d {
		r[i*d+i] = 1
	}
	return r
}

// randomRotation returns a uniformly random orthogonal matrix: the Q factor
// of a Gaussian matrix.
func randomRotation(rng *rand.Rand, d int) []float32 {
	g := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	r := make([]float32, d*d)
	for i := range d {
		for j := range d {
			r[i*d+j] = float32(q.At(i, j))
		}
	}
	return r
}

// procrustes returns, transposed, the orthogonal R minimising ‖X·R − Y‖_F:
// R = U·Vᵀ for the SVD Xᵀ·Y = U·S·Vᵀ (Schönemann 1966). XᵀY is accumulated
// in float64 over blocks of rows to bound memory.
func procrustes(x, y []float32, d int) []float32 {
	n := len(x) / d
	const block = 2048
	acc := mat.NewDense(d, d, nil)
	var part mat.Dense
	for lo := 0; lo < n; lo += block {
		hi := min(lo+block, n)
		xb := toDense(x[lo*d:hi*d], hi-lo, d)
		yb := toDense(y[lo*d:hi*d], hi-lo, d)
		part.Mul(xb.T(), yb)
		acc.Add(acc, &part)
	}
	var svd mat.SVD
	if !svd.Factorize(acc, mat.SVDThin) {
		// SVD of a finite d×d matrix converges in practice; keep the
		// identity rather than a garbage rotation if it ever does not.
		return identity(d)
	}
	var u, v, r mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	r.Mul(&u, v.T())
	rt := make([]float32, d*d)
	for i := range d {
		for j := range d {
			rt[j*d+i] = float32(r.At(i, j))
		}
	}
	return rt
}

func toDense(v []float32, rows, cols int) *mat.Dense {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return mat.NewDense(rows, cols, f)
}
