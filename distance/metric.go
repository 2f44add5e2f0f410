package distance

import (
	"fmt"
	"strings"
)

// Metric names a way of comparing vectors. Its numeric value is stable and
// is what index files store.
//
// Every index orders results by a distance where smaller is closer:
//   - L2: the squared Euclidean distance.
//   - InnerProduct: the negated inner product, -Σ a[i]*b[i] (maximum inner
//     product search).
//   - Cosine: 1 - cos(a, b). Indexes normalise vectors on insert and queries
//     on search, so the kernel is 1 - Dot on unit vectors.
type Metric uint8

const (
	L2           Metric = 0
	InnerProduct Metric = 1
	Cosine       Metric = 2
)

// String returns "l2", "ip" or "cosine".
func (m Metric) String() string {
	switch m {
	case L2:
		return "l2"
	case InnerProduct:
		return "ip"
	case Cosine:
		return "cosine"
	}
	return fmt.Sprintf("Metric(%d)", uint8(m))
}

// Valid reports whether m is one of the defined metrics.
func (m Metric) Valid() bool { return m <= Cosine }

// ParseMetric parses "l2" (also "euclidean"), "ip" (also "dot",
// "inner_product") and "cosine" (also "cos"), ignoring case.
func ParseMetric(s string) (Metric, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "l2", "euclidean", "sql2":
		return L2, nil
	case "ip", "dot", "inner_product", "innerproduct":
		return InnerProduct, nil
	case "cosine", "cos":
		return Cosine, nil
	}
	return 0, fmt.Errorf("distance: unknown metric %q (want l2, ip or cosine)", s)
}

// Normalizes reports whether indexes normalise vectors to unit length for
// this metric (Cosine) before storing or comparing them.
func (m Metric) Normalizes() bool { return m == Cosine }

// Kernels is the set of distance functions for one metric, resolved once so
// that an index never branches on the metric per distance. All of them
// return distances where smaller is closer. Vectors passed to a Cosine
// kernel must already be unit length (see Metric.Normalizes).
type Kernels struct {
	Metric Metric
	// Distance compares two vectors of equal length.
	Distance func(a, b []float32) float32
	// Batch scores q against every row of data (len(data)/dim rows).
	Batch func(q, data []float32, dim int, out []float32)
	// Gather scores q against the rows of data named by rows.
	Gather func(q, data []float32, dim int, rows []uint32, out []float32)
}

// Kernels returns the distance functions for m. It panics if m is not valid.
func (m Metric) Kernels() Kernels {
	switch m {
	case L2:
		return Kernels{Metric: m, Distance: SquaredL2, Batch: SquaredL2Batch, Gather: SquaredL2Gather}
	case InnerProduct:
		return Kernels{Metric: m, Distance: negDot, Batch: negDotBatch, Gather: negDotGather}
	case Cosine:
		return Kernels{Metric: m, Distance: unitCosine, Batch: unitCosineBatch, Gather: unitCosineGather}
	}
	panic("distance: invalid metric " + m.String())
}

func negDot(a, b []float32) float32 { return -Dot(a, b) }

func negDotBatch(q, data []float32, dim int, out []float32) {
	DotBatch(q, data, dim, out)
	for i := range out {
		out[i] = -out[i]
	}
}

func negDotGather(q, data []float32, dim int, rows []uint32, out []float32) {
	DotGather(q, data, dim, rows, out)
	for i := range out {
		out[i] = -out[i]
	}
}

func unitCosine(a, b []float32) float32 { return 1 - Dot(a, b) }

func unitCosineBatch(q, data []float32, dim int, out []float32) {
	DotBatch(q, data, dim, out)
	for i := range out {
		out[i] = 1 - out[i]
	}
}

func unitCosineGather(q, data []float32, dim int, rows []uint32, out []float32) {
	DotGather(q, data, dim, rows, out)
	for i := range out {
		out[i] = 1 - out[i]
	}
}
