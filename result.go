package nearkit

import "slices"

// Result is one search hit: the caller's ID and its distance to the query
// (smaller is closer, see distance.Metric).
type Result struct {
	ID       uint64
	Distance float32
}

// SortResults sorts rs by ascending distance, ties by ascending ID: the
// order every index returns.
func SortResults(rs []Result) {
	slices.SortFunc(rs, CompareResults)
}

// CompareResults orders by distance, then ID. A NaN distance (which no
// index returns, but a caller's list may hold) sorts after every number,
// so the order stays total and sorting well defined.
func CompareResults(a, b Result) int {
	switch {
	case a.Distance < b.Distance:
		return -1
	case a.Distance > b.Distance:
		return 1
	}
	// Equal distances, or a NaN on either side.
	if an, bn := a.Distance != a.Distance, b.Distance != b.Distance; an != bn {
		if an {
			return 1
		}
		return -1
	}
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
}

// SearchOptions are per-call search parameters. They travel with each call
// and are never stored on an index, so concurrent searches with different
// settings cannot race. The zero value means "index defaults, no filter".
type SearchOptions struct {
	// Filter, when non-nil, restricts results to the IDs it allows.
	Filter Filter
	// Ef is the HNSW search beam width; 0 means the index default. It is
	// raised to k when smaller.
	Ef int
	// NProbe is the number of inverted lists an ivf index visits; 0 means
	// the index default. Indexes without lists ignore it.
	NProbe int
	// Rerank, for an ivf index over compressed codes, re-scores the best
	// k×Rerank candidates with full-precision vectors; 0 means the index
	// default. Indexes that hold full vectors ignore it.
	Rerank int
}

// SearchStats are counters an index may fill during a search, for
// benchmarks. Indexes that count accept them through SearchWithStats.
type SearchStats struct {
	// Distances is the number of distance computations.
	Distances int64
}
