package ivf

import (
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// Encoding is how the entries of the inverted lists are stored. Its
// numeric value is stable and is what index files store.
type Encoding uint8

const (
	// Flat stores float32 vectors: exact distances (IndexIVFFlat).
	Flat Encoding = iota
	// SQ8 stores one byte per dimension with scalar.SQ8
	// (IndexIVFScalarQuantizer QT_8bit).
	SQ8
	// PQ stores 8-bit product-quantization codes of the residual to the
	// list centroid, M bytes per vector (IndexIVFPQ).
	PQ
	// PQFastScan stores 4-bit codes of the residual in the fast-scan
	// block layout, M/2 bytes per vector, scanned with lookup tables held
	// in SIMD registers (IndexIVFPQFastScan).
	PQFastScan
)

// String returns "flat", "sq8", "pq" or "pqfs".
func (e Encoding) String() string {
	switch e {
	case Flat:
		return "flat"
	case SQ8:
		return "sq8"
	case PQ:
		return "pq"
	case PQFastScan:
		return "pqfs"
	}
	return fmt.Sprintf("Encoding(%d)", uint8(e))
}

// Coarse selects the coarse quantizer that picks the lists to probe.
type Coarse uint8

const (
	// CoarseAuto selects CoarseFlat below HNSWThreshold lists and
	// CoarseHNSW from there.
	CoarseAuto Coarse = iota
	// CoarseFlat scores the query against every centroid (exact).
	CoarseFlat
	// CoarseHNSW searches an hnsw graph over the centroids (IVF-HNSW):
	// sub-linear in NList, and approximate.
	CoarseHNSW
)

// HNSWThreshold is the NList from which CoarseAuto uses an HNSW graph.
const HNSWThreshold = 4096

// Limits on the configuration.
const (
	MaxDim   = 1 << 16
	MaxNList = 1 << 22
	// MaxM bounds the PQ subquantizers (the fast-scan kernels' uint16 sums
	// stay exact up to 256).
	MaxM = 256
)

// Defaults.
const (
	DefaultNProbe = 8
	// DefaultPointsPerList is FAISS's max_points_per_centroid: Train uses
	// at most NList × this many samples for the coarse k-means.
	DefaultPointsPerList = 256
)

// Config parameterises an index. Zero values select the defaults; the
// configuration is stored with the index.
type Config struct {
	// Dim is the vector dimension (required).
	Dim int
	// Metric is the distance (default L2). Cosine normalises vectors on
	// insert and queries on search.
	Metric distance.Metric
	// NList is the number of inverted lists, the coarse centroids
	// (required, ≥ 1).
	NList int
	// Encoding is how list entries are stored (default Flat).
	Encoding Encoding
	// M is the number of PQ subquantizers for PQ and PQFastScan (required
	// for them; must divide Dim). Codes take M bytes (PQ) or M/2 bytes
	// (PQFastScan).
	M int
	// OPQ rotates residuals with a trained OPQ rotation before product
	// quantization (PQ and PQFastScan only).
	OPQ bool
	// Coarse selects the coarse quantizer (default CoarseAuto).
	Coarse Coarse
	// NProbe is the default number of lists a search visits
	// (default DefaultNProbe, at most NList); SearchOptions.NProbe
	// overrides it per call.
	NProbe int
	// Rerank is the default re-ranking factor for compressed encodings:
	// the best k×Rerank candidates are re-scored with full vectors from
	// the index's VectorSource (see SetVectors and KeepVectors). 0 means
	// no re-ranking; SearchOptions.Rerank overrides it per call.
	Rerank int
	// KeepVectors stores the float32 vectors beside the codes of a
	// compressed encoding, in the lists, for re-ranking from memory.
	KeepVectors bool
	// PointsPerList bounds the coarse training sample to NList × this many
	// vectors (default DefaultPointsPerList).
	PointsPerList int
	// Iterations is the number of k-means iterations (default 25, FAISS's
	// default; also the PQ codebooks' k-means).
	Iterations int
	// Seed seeds training.
	Seed uint64
	// Progress, when non-nil, is called during Train with a stage name
	// ("coarse", "codebook") and the iterations done and planned. It is
	// not stored with the index.
	Progress func(stage string, done, total int)
}

func (c *Config) setDefaults() {
	if c.NProbe == 0 {
		c.NProbe = DefaultNProbe
	}
	c.NProbe = min(c.NProbe, max(c.NList, 1))
	if c.PointsPerList == 0 {
		c.PointsPerList = DefaultPointsPerList
	}
	if c.Iterations == 0 {
		c.Iterations = 25
	}
	if c.Coarse == CoarseAuto {
		c.Coarse = CoarseFlat
		if c.NList >= HNSWThreshold {
			c.Coarse = CoarseHNSW
		}
	}
}

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: ivf: "+format, append([]any{nearkit.ErrInvalidConfig}, args...)...)
	}
	switch {
	case c.Dim < 1 || c.Dim > MaxDim:
		return bad("Dim %d out of range [1, %d]", c.Dim, MaxDim)
	case !c.Metric.Valid():
		return bad("invalid metric %v", c.Metric)
	case c.NList < 1 || c.NList > MaxNList:
		return bad("NList %d out of range [1, %d]", c.NList, MaxNList)
	case c.Encoding > PQFastScan:
		return bad("invalid encoding %v", c.Encoding)
	case c.Coarse > CoarseHNSW:
		return bad("invalid coarse quantizer %d", c.Coarse)
	case c.NProbe < 0 || c.Rerank < 0 || c.PointsPerList < 0 || c.Iterations < 0:
		return bad("negative NProbe, Rerank, PointsPerList or Iterations")
	case c.Rerank > 1<<16:
		return bad("Rerank %d too large", c.Rerank)
	}
	if c.Encoding == PQ || c.Encoding == PQFastScan {
		if c.M < 1 || c.M > MaxM || c.Dim%c.M != 0 {
			return bad("M %d must be in [1, %d] and divide Dim %d", c.M, MaxM, c.Dim)
		}
	} else if c.OPQ {
		return bad("OPQ applies to the PQ encodings only")
	}
	return nil
}

// codeSize is the bytes of one list entry's code.
func (c *Config) codeSize() int {
	switch c.Encoding {
	case Flat:
		return 4 * c.Dim
	case SQ8:
		return c.Dim
	case PQ:
		return c.M
	}
	return (c.M + 1) / 2
}
