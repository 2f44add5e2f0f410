package kmeans

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit/distance"
)

// pointBlock is the number of points a worker takes at a time: enough to
// amortise scheduling, small enough to balance the load on a few cores.
const pointBlock = 64

// centroidBlockBytes sizes the block of centroids scored against a block of
// points so that it stays in L1/L2 cache while each point of the block
// streams past it: 1,024 centroids × 128 dims is 512 KiB, larger than L2 on
// many cores, and re-reading it from L3 for every point costs ~2×.
const centroidBlockBytes = 48 << 10

// useDotFormulation selects ‖c‖² − 2·x·c (with DotBatch) over
// SquaredL2Batch in the assignment step. Both kernels do one multiply-add
// per coordinate; the dot form saves the subtraction, and ‖x‖² is a
// per-point constant that does not change the argmin, so it is added only
// to the winning distance. BenchmarkAssign compares the two.
var useDotFormulation = true

// assigner holds per-worker scratch space for the assignment step.
type assigner struct {
	dim     int
	workers int
	norms   []float32
}

func newAssigner(dim, workers int) *assigner {
	return &assigner{dim: dim, workers: max(workers, 1)}
}

// assign sets assign[i] to the index of the centroid nearest to point i and
// dists[i] to the squared distance. Ties go to the lower centroid index.
func (a *assigner) assign(data, cent []float32, assign []uint32, dists []float32) {
	dim := a.dim
	k := len(cent) / dim
	n := len(data) / dim
	if useDotFormulation {
		if cap(a.norms) < k {
			a.norms = make([]float32, k)
		}
		a.norms = a.norms[:k]
		for c := range k {
			v := cent[c*dim : (c+1)*dim]
			a.norms[c] = distance.Dot(v, v)
		}
	}
	cb := max(1, centroidBlockBytes/(4*dim))
	cb = min(cb, k)
	blocks := (n + pointBlock - 1) / pointBlock
	workers := min(a.workers, blocks)
	var next atomic.Int64
	work := func() {
		out := make([]float32, cb)
		best := make([]float32, pointBlock)
		for {
			b := int(next.Add(1) - 1)
			if b >= blocks {
				return
			}
			lo, hi := b*pointBlock, min((b+1)*pointBlock, n)
			a.block(data[lo*dim:hi*dim], cent, k, cb, assign[lo:hi], dists[lo:hi], best, out)
		}
	}
	if workers <= 1 {
		work()
		return
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(work)
	}
	wg.Wait()
}

func (a *assigner) block(pts, cent []float32, k, cb int, assign []uint32, dists, best, out []float32) {
	dim := a.dim
	np := len(pts) / dim
	best = best[:np]
	for i := range best {
		best[i] = float32(inf)
		assign[i] = 0
	}
	for c0 := 0; c0 < k; c0 += cb {
		c1 := min(c0+cb, k)
		cblk := cent[c0*dim : c1*dim]
		o := out[:c1-c0]
		for i := range np {
			x := pts[i*dim : (i+1)*dim]
			bd, bc := best[i], assign[i]
			if useDotFormulation {
				distance.DotBatch(x, cblk, dim, o)
				nrm := a.norms[c0:c1]
				nrm = nrm[:len(o)]
				for j, d := range o {
					if v := nrm[j] - 2*d; v < bd {
						bd, bc = v, uint32(c0+j)
					}
				}
			} else {
				distance.SquaredL2Batch(x, cblk, dim, o)
				for j, v := range o {
					if v < bd {
						bd, bc = v, uint32(c0+j)
					}
				}
			}
			best[i], assign[i] = bd, bc
		}
	}
	for i := range np {
		d := best[i]
		if useDotFormulation {
			x := pts[i*dim : (i+1)*dim]
			d += distance.Dot(x, x)
			if d < 0 {
				// Cancellation in ‖x‖²+‖c‖²−2x·c for x ≈ c.
				d = 0
			}
		}
		dists[i] = d
	}
}

const inf = 3.4028234663852886e38

// Assign sets assign[i] to the index of the centroid of centroids (k
// row-major vectors of dimension dim) nearest to row i of data, and, when
// dists is non-nil, dists[i] to its squared L2 distance. It runs on
// GOMAXPROCS goroutines. Ties go to the lower centroid index.
// It panics if the slice lengths are inconsistent; callers validate input.
func Assign(data []float32, dim int, centroids []float32, assign []uint32, dists []float32) {
	n := len(data) / dim
	if len(data)%dim != 0 || len(centroids)%dim != 0 || len(centroids) == 0 || len(assign) != n || (dists != nil && len(dists) != n) {
		panic("kmeans: Assign: inconsistent sizes")
	}
	if dists == nil {
		dists = make([]float32, n)
	}
	newAssigner(dim, runtime.GOMAXPROCS(0)).assign(data, centroids, assign, dists)
}

// Nearest returns the index of the centroid nearest to x and its squared
// L2 distance, scanning with SquaredL2Batch; scratch (len ≥ k) avoids an
// allocation. Ties go to the lower index.
func Nearest(x, centroids []float32, scratch []float32) (int, float32) {
	dim := len(x)
	k := len(centroids) / dim
	out := scratch[:k]
	distance.SquaredL2Batch(x, centroids, dim, out)
	bc, bd := 0, out[0]
	for j, v := range out {
		if v < bd {
			bd, bc = v, j
		}
	}
	return bc, bd
}
