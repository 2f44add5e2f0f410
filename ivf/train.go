package ivf

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/kmeans"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/pq/opq"
	"github.com/nearkit/nearkit/scalar"
)

// maxCodebookSamples caps the residuals the PQ (or OPQ) codebooks train
// on: 256 per codeword of an 8-bit codebook, FAISS's default.
const maxCodebookSamples = 256 * 256

// Train learns the coarse centroids from the len(samples)/Dim row-major
// vectors of samples (k-means on at most NList×PointsPerList of them),
// then the codec of the encoding: SQ8 ranges, or PQ (and OPQ) codebooks on
// the residuals of the samples to their centroids. It must run once,
// before any Add.
//
// Errors wrap nearkit.ErrDimension and nearkit.ErrInvalidVector for bad
// samples, nearkit.ErrEmpty for fewer samples than NList (or than a PQ
// codebook's 2^nbits codewords), nearkit.ErrInvalidConfig when the index
// is already trained, and ctx.Err().
func (x *Index) Train(ctx context.Context, samples []float32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.checkWritable(); err != nil {
		return err
	}
	if x.trained {
		return fmt.Errorf("%w: ivf: index already trained", nearkit.ErrInvalidConfig)
	}
	dim := x.cfg.Dim
	if err := check.Vectors(samples, dim); err != nil {
		return fmt.Errorf("ivf: Train: %w", err)
	}
	n := len(samples) / dim
	if n < x.cfg.NList {
		return fmt.Errorf("%w: ivf: %d training vectors for %d lists", nearkit.ErrEmpty, n, x.cfg.NList)
	}
	if x.cfg.Metric.Normalizes() {
		samples = normalizedCopy(samples, dim)
	}
	progress := x.cfg.Progress
	if progress == nil {
		progress = func(string, int, int) {}
	}
	res, err := kmeans.Train(ctx, samples, dim, kmeans.Config{
		K:                    x.cfg.NList,
		Iterations:           x.cfg.Iterations,
		MaxPointsPerCentroid: x.cfg.PointsPerList,
		Seed:                 x.cfg.Seed,
		Progress: func(it int, _ float64) {
			progress("coarse", it+1, x.cfg.Iterations)
		},
	})
	if err != nil {
		return fmt.Errorf("ivf: coarse k-means: %w", err)
	}
	centroids := res.Centroids
	cnorm := make([]float32, x.cfg.NList)
	for i := range cnorm {
		c := centroids[i*dim : (i+1)*dim]
		cnorm[i] = distance.Dot(c, c)
	}

	var (
		sq      *scalar.SQ8
		pqz     *pq.ProductQuantizer
		rot     *opq.Quantizer
		precomp []float32
	)
	switch x.cfg.Encoding {
	case SQ8:
		progress("codebook", 0, 1)
		sq, err = scalar.NewSQ8(scalar.SQ8Config{Dim: dim, Metric: x.cfg.Metric, Uniform: x.cfg.Metric == distance.L2})
		if err == nil {
			err = sq.Train(ctx, samples)
		}
		if err != nil {
			return fmt.Errorf("ivf: SQ8 training: %w", err)
		}
		progress("codebook", 1, 1)
	case PQ, PQFastScan:
		progress("codebook", 0, 1)
		nbits := 8
		if x.cfg.Encoding == PQFastScan {
			nbits = 4
		}
		resid := residuals(samples, dim, centroids, maxCodebookSamples, x.cfg.Seed)
		pcfg := pq.Config{Dim: dim, M: x.cfg.M, NBits: nbits, Metric: distance.L2, Iterations: x.cfg.Iterations, Seed: x.cfg.Seed}
		if x.cfg.OPQ {
			rot, err = opq.New(opq.Config{PQ: pcfg})
			if err == nil {
				err = rot.Train(ctx, resid)
			}
			if err == nil {
				pqz = rot.PQ()
			}
		} else {
			pqz, err = pq.New(pcfg)
			if err == nil {
				err = pqz.Train(ctx, resid)
			}
		}
		if err != nil {
			return fmt.Errorf("ivf: PQ training: %w", err)
		}
		if x.cfg.Metric == distance.L2 {
			precomp = precomputeTables(pqz, rot, centroids, dim)
		}
		progress("codebook", 1, 1)
	}
	var graph *hnsw.Index
	if x.cfg.Coarse == CoarseHNSW {
		graph, err = buildGraph(ctx, x.cfg, centroids)
		if err != nil {
			return err
		}
	}
	x.install(centroids, cnorm, graph, sq, pqz, rot, precomp)
	return nil
}

// install sets the trained state (Train and Read).
func (x *Index) install(centroids, cnorm []float32, graph *hnsw.Index, sq *scalar.SQ8, pqz *pq.ProductQuantizer, opq *opq.Quantizer, precomp []float32) {
	if x.lists == nil {
		x.lists = make([]list, x.cfg.NList)
	}
	x.centroids, x.cnorm, x.graph = centroids, cnorm, graph
	x.sq, x.pq, x.opq, x.precomp = sq, pqz, opq, precomp
	if pqz != nil {
		x.cb = pqz.Centroids()
		x.ksub = 1 << pqz.NBits()
		x.dsub = x.cfg.Dim / pqz.M()
		x.nPairs = pq.FastScanPairs(pqz.M())
	}
	x.trained = true
}

// buildGraph indexes the centroids in an hnsw graph, IDs = list numbers.
// Inner-product and cosine indexes use inner product: a cosine index's
// centroids are not unit length, and what ranks lists is ⟨q, c⟩.
func buildGraph(ctx context.Context, cfg Config, centroids []float32) (*hnsw.Index, error) {
	metric := distance.L2
	if cfg.Metric != distance.L2 {
		metric = distance.InnerProduct
	}
	g, err := hnsw.New(hnsw.Config{Dim: cfg.Dim, Metric: metric, M: 32, EfConstruction: 200, Seed: cfg.Seed})
	if err != nil {
		return nil, fmt.Errorf("ivf: coarse graph: %w", err)
	}
	ids := make([]uint64, cfg.NList)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := g.AddBatch(ctx, ids, centroids); err != nil {
		return nil, fmt.Errorf("ivf: coarse graph: %w", err)
	}
	return g, nil
}

// residuals returns x − c(x) for at most limit of the samples, drawn at
// random with seed, where c(x) is the nearest centroid.
func residuals(samples []float32, dim int, centroids []float32, limit int, seed uint64) []float32 {
	n := len(samples) / dim
	if n > limit {
		rng := rand.New(rand.NewPCG(seed, 0x1f))
		perm := rng.Perm(n)[:limit]
		sub := make([]float32, limit*dim)
		for i, j := range perm {
			copy(sub[i*dim:(i+1)*dim], samples[j*dim:(j+1)*dim])
		}
		samples, n = sub, limit
	} else {
		samples = append([]float32(nil), samples...)
	}
	assign := make([]uint32, n)
	kmeans.Assign(samples, dim, centroids, assign, nil)
	for i, a := range assign {
		v := samples[i*dim : (i+1)*dim]
		c := centroids[int(a)*dim : (int(a)+1)*dim]
		for j := range v {
			v[j] -= c[j]
		}
	}
	return samples
}

// precomputeTables tabulates ‖y‖² + 2⟨c, y⟩ per list, subquantizer and
// codeword (c rotated when opq is set, as the residuals were).
func precomputeTables(p *pq.ProductQuantizer, opq *opq.Quantizer, centroids []float32, dim int) []float32 {
	m, ksub := p.M(), 1<<p.NBits()
	dsub := dim / m
	cb := p.Centroids()
	ynorm := make([]float32, m*ksub)
	for i := range ynorm {
		y := cb[i*dsub : (i+1)*dsub]
		ynorm[i] = distance.Dot(y, y)
	}
	nlist := len(centroids) / dim
	out := make([]float32, nlist*m*ksub)
	rc := make([]float32, dim)
	for l := range nlist {
		c := centroids[l*dim : (l+1)*dim]
		if opq != nil {
			opq.Rotate(rc, c)
			c = rc
		}
		t := out[l*m*ksub : (l+1)*m*ksub]
		for s := range m {
			ts := t[s*ksub : (s+1)*ksub]
			distance.DotBatch(c[s*dsub:(s+1)*dsub], cb[s*ksub*dsub:(s+1)*ksub*dsub], dsub, ts)
			yn := ynorm[s*ksub : (s+1)*ksub]
			for j := range ts {
				ts[j] = yn[j] + 2*ts[j]
			}
		}
	}
	return out
}

func normalizedCopy(v []float32, dim int) []float32 {
	out := append([]float32(nil), v...)
	for i := 0; i < len(out); i += dim {
		distance.Normalize(out[i : i+dim])
	}
	return out
}
