package kmeans

import (
	"math"
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

// kernel selects the assignment kernel. Only tests and benchmarks choose
// one; everything else takes kernelAuto.
//
// BenchmarkAssign (1,024 centroids × 128 dims, one core, AVX-512 distance
// kernels): dot 0.11 Gpairs/s, l2 0.093, panel 0.25–0.5 (noisy shared
// machine). The batch kernels stream both operands for every pair (two
// loads per FMA); the panel kernel is a 4×32 register-blocked
// matrix-multiply tile (six loads per eight FMAs) with the argmin fused.
type kernel uint8

const (
	// kernelAuto takes the panel kernel when the CPU has it and
	// k·dim ≥ panelMinWork, else kernelDot.
	kernelAuto kernel = iota
	// kernelPanel is the AVX-512 panel kernel at every size; it needs
	// hasPanel.
	kernelPanel
	// kernelDot computes ‖c‖² − 2·x·c with DotBatch. Against kernelL2
	// (SquaredL2Batch) both do one multiply-add per coordinate; the dot
	// form saves the subtraction, and ‖x‖² is a per-point constant that
	// does not change the argmin, so it is added only to the winning
	// distance.
	kernelDot
	// kernelL2 uses SquaredL2Batch.
	kernelL2
)

// assigner holds centroids prepared for the assignment step: squared
// norms for the dot formulation, transposed panels for the panel kernel.
// The path is fixed when the centroids are prepared.
type assigner struct {
	dim     int
	workers int
	kernel  kernel // as asked; prepare resolves kernelAuto into panel and dot
	k       int
	cent    []float32
	panel   bool // panel kernel (else batch kernels)
	dot     bool // dot formulation of the batch path
	cb      int  // centroid block of the batch path
	norms   []float32
	panels  []float32 // centroids transposed in panels of panelWidth (panel path)
	pnorms  []float32 // their squared norms, +Inf for padding
}

// The panel kernel scores panelRows points against panels of panelWidth
// centroids at a time (see panel_amd64.s).
const (
	panelRows  = 4
	panelWidth = 32
)

// panelMinWork is the smallest k·dim for which the panel kernel pays: with
// tiny codebooks (16 centroids of 4 dims in 4-bit PQ) its per-call set-up
// and lane reduction outweigh the arithmetic (BenchmarkEncode in pq:
// M=32 × 4 bits encodes ~1.5× faster on the batch kernels).
const panelMinWork = 1024

// panelBlockBytes sizes the group of panels scored against a block of
// points before moving on, so that the group stays in L2 while the
// block's points go past it.
const panelBlockBytes = 256 << 10

func newAssigner(dim, workers int, kern kernel) *assigner {
	return &assigner{dim: dim, workers: max(workers, 1), kernel: kern}
}

// prepare sets the centroids (k = len(cent)/dim rows, not copied).
func (a *assigner) prepare(cent []float32) {
	dim := a.dim
	k := len(cent) / dim
	a.k, a.cent = k, cent
	switch a.kernel {
	case kernelAuto:
		a.panel, a.dot = hasPanel && k*dim >= panelMinWork, true
	case kernelPanel:
		if !hasPanel {
			panic("kmeans: panel kernel not available on this CPU")
		}
		a.panel, a.dot = true, true
	case kernelDot:
		a.panel, a.dot = false, true
	case kernelL2:
		a.panel, a.dot = false, false
	}
	a.cb = min(max(1, centroidBlockBytes/(4*dim)), k)
	switch {
	case a.panel:
		a.buildPanels(cent, k)
	case a.dot:
		a.norms = grow(a.norms, k)
		for c := range k {
			v := cent[c*dim : (c+1)*dim]
			a.norms[c] = distance.Dot(v, v)
		}
	}
}

// scratch is one goroutine's working memory for run.
type scratch struct {
	ps    *panelScratch
	out   []float32
	best  []float32
	dists []float32
}

func (a *assigner) newScratch() *scratch {
	return &scratch{
		ps:    newPanelScratch(a.dim),
		out:   make([]float32, a.cb),
		best:  make([]float32, pointBlock),
		dists: make([]float32, pointBlock),
	}
}

// runBlock assigns one block of at most pointBlock points; dists may be
// nil.
func (a *assigner) runBlock(pts []float32, assign []uint32, dists []float32, s *scratch) {
	if dists == nil {
		dists = s.dists[:len(assign)]
	}
	if a.panel {
		a.panelBlock(pts, assign, dists, s.ps)
		return
	}
	a.block(pts, a.cent, a.k, a.cb, assign, dists, s.best, s.out)
}

// assign sets assign[i] to the index of the centroid nearest to point i and
// dists[i] to the squared distance. Ties go to the lower centroid index.
func (a *assigner) assign(data, cent []float32, assign []uint32, dists []float32) {
	a.prepare(cent)
	a.run(data, assign, dists)
}

// run assigns the points of data to the prepared centroids on a.workers
// goroutines.
func (a *assigner) run(data []float32, assign []uint32, dists []float32) {
	dim := a.dim
	n := len(data) / dim
	blocks := (n + pointBlock - 1) / pointBlock
	workers := min(a.workers, blocks)
	var next atomic.Int64
	work := func() {
		s := a.newScratch()
		for {
			b := int(next.Add(1) - 1)
			if b >= blocks {
				return
			}
			lo, hi := b*pointBlock, min((b+1)*pointBlock, n)
			var d []float32
			if dists != nil {
				d = dists[lo:hi]
			}
			a.runBlock(data[lo*dim:hi*dim], assign[lo:hi], d, s)
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

// Codebook is a set of centroids prepared once for many nearest-centroid
// queries (encoding with a trained quantizer). Assign is safe for
// concurrent use.
type Codebook struct {
	a    assigner
	pool sync.Pool
}

// NewCodebook prepares the len(centroids)/dim centroids; centroids must
// not be modified afterwards. It panics if dim ≤ 0 or len(centroids) is
// not a positive multiple of dim.
func NewCodebook(centroids []float32, dim int) *Codebook {
	return newCodebook(centroids, dim, kernelAuto)
}

func newCodebook(centroids []float32, dim int, kern kernel) *Codebook {
	if dim <= 0 || len(centroids) == 0 || len(centroids)%dim != 0 {
		panic("kmeans: NewCodebook: inconsistent sizes")
	}
	c := &Codebook{a: assigner{dim: dim, workers: 1, kernel: kern}}
	c.a.prepare(centroids)
	c.pool.New = func() any { return c.a.newScratch() }
	return c
}

// Assign sets assign[i] to the index of the centroid nearest to row i of
// points and, if dists is non-nil, dists[i] to its squared distance, on the
// calling goroutine. Ties go to the lower centroid index, and the result
// matches Assign and Train's assignment step for the same centroids.
// It panics on inconsistent lengths.
func (c *Codebook) Assign(points []float32, assign []uint32, dists []float32) {
	dim := c.a.dim
	n := len(points) / dim
	if len(points)%dim != 0 || len(assign) != n || (dists != nil && len(dists) != n) {
		panic("kmeans: Codebook.Assign: inconsistent sizes")
	}
	s := c.pool.Get().(*scratch)
	for lo := 0; lo < n; lo += pointBlock {
		hi := min(lo+pointBlock, n)
		var d []float32
		if dists != nil {
			d = dists[lo:hi]
		}
		c.a.runBlock(points[lo*dim:hi*dim], assign[lo:hi], d, s)
	}
	c.pool.Put(s)
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
			if a.dot {
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
		if a.dot {
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

// buildPanels transposes the centroids into panels: panel p, row d holds
// coordinate d of centroids panelWidth·p … panelWidth·p+panelWidth−1.
// Padding centroids are zero with norm +Inf so they never win.
func (a *assigner) buildPanels(cent []float32, k int) {
	dim := a.dim
	np := (k + panelWidth - 1) / panelWidth
	a.panels = grow(a.panels, np*panelWidth*dim)
	a.pnorms = grow(a.pnorms, np*panelWidth)
	clear(a.panels)
	for c := range np * panelWidth {
		if c >= k {
			a.pnorms[c] = float32(math.Inf(1))
			continue
		}
		v := cent[c*dim : (c+1)*dim]
		a.pnorms[c] = distance.Dot(v, v)
		p, l := c/panelWidth, c%panelWidth
		base := p * panelWidth * dim
		for d, x := range v {
			a.panels[base+d*panelWidth+l] = x
		}
	}
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// panelScratch is one worker's state for panelBlock.
type panelScratch struct {
	pad   []float32 // a group of panelRows points, zero-padded
	bestV []float32 // per group of the block: panelRows × panelWidth
	bestI []int32
}

func newPanelScratch(dim int) *panelScratch {
	g := (pointBlock + panelRows - 1) / panelRows
	return &panelScratch{
		pad:   make([]float32, panelRows*dim),
		bestV: make([]float32, g*panelRows*panelWidth),
		bestI: make([]int32, g*panelRows*panelWidth),
	}
}

// panelBlock assigns a block of points with the panel kernel: for each
// group of panels that fits panelBlockBytes, every group of panelRows
// points keeps per-lane running minima; the lanes are reduced at the end
// (ties to the lower centroid index, as the other path).
func (a *assigner) panelBlock(pts []float32, assign []uint32, dists []float32, s *panelScratch) {
	dim := a.dim
	np := len(pts) / dim
	groups := (np + panelRows - 1) / panelRows
	nPanels := len(a.pnorms) / panelWidth
	per := max(1, panelBlockBytes/(panelWidth*dim*4))
	bv := s.bestV[:groups*panelRows*panelWidth]
	bi := s.bestI[:groups*panelRows*panelWidth]
	for i := range bv {
		bv[i] = float32(math.Inf(1))
		bi[i] = 0
	}
	for p0 := 0; p0 < nPanels; p0 += per {
		p1 := min(p0+per, nPanels)
		panels := a.panels[p0*panelWidth*dim : p1*panelWidth*dim]
		norms := a.pnorms[p0*panelWidth : p1*panelWidth]
		for g := range groups {
			x := pts[g*panelRows*dim:]
			if len(x) < panelRows*dim {
				clear(s.pad)
				copy(s.pad, x)
				x = s.pad
			}
			off := g * panelRows * panelWidth
			panelArgmin(x, dim, panels, p1-p0, norms, int32(p0*panelWidth), bv[off:off+panelRows*panelWidth], bi[off:off+panelRows*panelWidth])
		}
	}
	for i := range np {
		lanesV := bv[i*panelWidth : (i+1)*panelWidth]
		lanesI := bi[i*panelWidth : (i+1)*panelWidth]
		bd, bc := lanesV[0], lanesI[0]
		for l := 1; l < panelWidth; l++ {
			if v, c := lanesV[l], lanesI[l]; v < bd || (v == bd && c < bc) {
				bd, bc = v, c
			}
		}
		x := pts[i*dim : (i+1)*dim]
		d := bd + distance.Dot(x, x)
		if d < 0 {
			d = 0
		}
		assign[i], dists[i] = uint32(bc), d
	}
}

// Assign sets assign[i] to the index of the centroid of centroids (k
// row-major vectors of dimension dim) nearest to row i of data, and, when
// dists is non-nil, dists[i] to its squared L2 distance. It runs on
// GOMAXPROCS goroutines. Ties go to the lower centroid index.
// It panics if the slice lengths are inconsistent; callers validate input.
func Assign(data []float32, dim int, centroids []float32, assign []uint32, dists []float32) {
	assignWith(data, dim, centroids, assign, dists, kernelAuto)
}

func assignWith(data []float32, dim int, centroids []float32, assign []uint32, dists []float32, kern kernel) {
	n := len(data) / dim
	if len(data)%dim != 0 || len(centroids)%dim != 0 || len(centroids) == 0 || len(assign) != n || (dists != nil && len(dists) != n) {
		panic("kmeans: Assign: inconsistent sizes")
	}
	if dists == nil {
		dists = make([]float32, n)
	}
	newAssigner(dim, runtime.GOMAXPROCS(0), kern).assign(data, centroids, assign, dists)
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
