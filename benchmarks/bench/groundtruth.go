package bench

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

// GTDepth is how many neighbours ground truth holds per query, as in the
// texmex and ann-benchmarks files: enough for recall@k up to 100.
const GTDepth = 100

// GroundTruth is the exact neighbour list of every query: K base row
// numbers per query, nearest first.
type GroundTruth struct {
	IDs []int32
	K   int
	// Path is the file it was read from or cached in by
	// EnsureGroundTruth ("" when it was not saved).
	Path string
}

// Row returns query q's neighbours.
func (g *GroundTruth) Row(q int) []int32 { return g.IDs[q*g.K : (q+1)*g.K] }

// NQ returns the number of queries covered.
func (g *GroundTruth) NQ() int {
	if g.K == 0 {
		return 0
	}
	return len(g.IDs) / g.K
}

// ComputeGroundTruth finds the exact top-k base rows of every query with a
// flat index (base row i added under ID i), searching in parallel on
// GOMAXPROCS goroutines, in chunks so progress can be reported and ctx
// honoured. progress, when non-nil, receives the number of queries done.
func ComputeGroundTruth(ctx context.Context, base, queries []float32, dim int, m distance.Metric, k int, progress func(done int)) (*GroundTruth, error) {
	idx, err := flat.New(flat.Config{Dim: dim, Metric: m})
	if err != nil {
		return nil, err
	}
	n := len(base) / dim
	if err := idx.AddBatch(ctx, seqIDs(n), base); err != nil {
		return nil, err
	}
	k = min(k, n)
	nq := len(queries) / dim
	gt := &GroundTruth{IDs: make([]int32, nq*k), K: k}
	const chunk = 256
	for lo := 0; lo < nq; lo += chunk {
		hi := min(lo+chunk, nq)
		res, err := idx.SearchBatch(ctx, queries[lo*dim:hi*dim], k, nearkit.SearchOptions{})
		if err != nil {
			return nil, err
		}
		for i, rs := range res {
			if len(rs) != k {
				return nil, fmt.Errorf("bench: ground truth: flat returned %d of %d neighbours", len(rs), k)
			}
			row := gt.IDs[(lo+i)*k : (lo+i+1)*k]
			for j, r := range rs {
				row[j] = int32(r.ID)
			}
		}
		if progress != nil {
			progress(hi)
		}
	}
	return gt, nil
}

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	return ids
}

// CheckGroundTruth verifies that gt fits ds for recall@k: it covers every
// query, holds at least k neighbours that are valid base rows, and, on a
// few spot-checked queries, lists neighbours whose exact distances (in
// float64) match the true k nearest distances rank by rank. The spot
// check catches a file computed for another metric, another base set or
// another query order, without paying for a full recomputation.
func CheckGroundTruth(ds *dataset.Dataset, gt *GroundTruth, k int) error {
	n, nq := ds.N(), ds.NQ()
	if gt.K < min(k, n) {
		return fmt.Errorf("holds %d neighbours per query, need %d", gt.K, min(k, n))
	}
	if gt.NQ() < nq {
		return fmt.Errorf("covers %d queries, need %d", gt.NQ(), nq)
	}
	for i, id := range gt.IDs[:nq*gt.K] {
		if id < 0 || int(id) >= n {
			return fmt.Errorf("query %d: neighbour %d is not a base row (%d rows)", i/gt.K, id, n)
		}
	}
	kk := min(k, n)
	d := ds.Dim
	dists := make([]float64, n)
	for _, q := range spotQueries(nq) {
		qv := ds.Queries[q*d : (q+1)*d]
		for i := range n {
			dists[i] = exactDistance(ds.Metric, qv, ds.Base[i*d:(i+1)*d])
		}
		row := gt.Row(q)
		got := make([]float64, kk)
		for j := range kk {
			got[j] = dists[row[j]]
		}
		slices.Sort(dists)
		// float32 kernels round differently from this float64 reference,
		// so compare with a tolerance scaled to the distances' magnitude.
		scale := math.Abs(dists[0]) + math.Abs(dists[kk-1]) + 1e-12
		for j := range kk {
			if math.Abs(got[j]-dists[j]) > 1e-3*scale {
				return fmt.Errorf("query %d rank %d: listed neighbour is at distance %g, the true one at %g (ground truth for another metric or data?)", q, j, got[j], dists[j])
			}
		}
	}
	return nil
}

func spotQueries(nq int) []int {
	qs := []int{0, nq / 3, 2 * nq / 3, nq - 1}
	return slices.Compact(qs)
}

// exactDistance is the metric's "smaller is closer" distance in float64.
func exactDistance(m distance.Metric, a, b []float32) float64 {
	var dot, aa, bb, l2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		aa += x * x
		bb += y * y
		l2 += (x - y) * (x - y)
	}
	switch m {
	case distance.InnerProduct:
		return -dot
	case distance.Cosine:
		if aa == 0 || bb == 0 {
			return 1
		}
		return 1 - dot/math.Sqrt(aa*bb)
	}
	return l2
}

// EnsureGroundTruth returns ground truth for ds at depth max(GTDepth, k):
// ds.GT or the first of ds.GTPaths that passes CheckGroundTruth, or else a fresh
// computation saved to ds.GTSave (crash-safely) for the next run. logf
// receives one line about what happened; progress is passed to
// ComputeGroundTruth.
func EnsureGroundTruth(ctx context.Context, ds *dataset.Dataset, k int, logf func(format string, args ...any), progress func(done int)) (*GroundTruth, error) {
	if ds.GTK > 0 {
		gt := &GroundTruth{IDs: ds.GT, K: ds.GTK}
		if err := CheckGroundTruth(ds, gt, k); err != nil {
			logf("ignoring the data set's own ground truth: %v", err)
		} else {
			logf("ground truth: the data set's own (%d queries × %d)", gt.NQ(), gt.K)
			return gt, nil
		}
	}
	for _, p := range ds.GTPaths {
		ids, gk, err := dataset.LoadIvecs(p, ds.NQ())
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			logf("ignoring ground truth %s: %v", p, err)
			continue
		}
		gt := &GroundTruth{IDs: ids, K: gk, Path: p}
		if err := CheckGroundTruth(ds, gt, k); err != nil {
			logf("ignoring ground truth %s: %v", p, err)
			continue
		}
		logf("ground truth: %s (%d queries × %d)", p, gt.NQ(), gt.K)
		return gt, nil
	}
	depth := max(GTDepth, k)
	logf("computing exact top-%d for %d queries over %d vectors with flat...", min(depth, ds.N()), ds.NQ(), ds.N())
	gt, err := ComputeGroundTruth(ctx, ds.Base, ds.Queries, ds.Dim, ds.Metric, depth, progress)
	if err != nil {
		return nil, fmt.Errorf("ground truth: %w", err)
	}
	if ds.GTSave != "" {
		if err := os.MkdirAll(filepath.Dir(ds.GTSave), 0o755); err != nil {
			logf("not caching ground truth: %v", err)
		} else if err := dataset.SaveIvecs(ds.GTSave, gt.IDs, gt.K); err != nil {
			logf("not caching ground truth: %v", err)
		} else {
			gt.Path = ds.GTSave
			logf("ground truth cached in %s", ds.GTSave)
		}
	}
	return gt, nil
}

// Recall returns recall@k of found against gt: the fraction of each
// query's true k nearest that the index returned among its first k
// results, averaged over queries. found[q] holds query q's result IDs;
// duplicates count once and missing results count as misses.
func Recall(found [][]uint64, gt *GroundTruth, k int) float64 {
	if len(found) == 0 || k <= 0 {
		return 0
	}
	kk := min(k, gt.K)
	hits := 0
	for q, ids := range found {
		truth := gt.Row(q)[:kk]
		ids = ids[:min(len(ids), k)]
		for j, id := range ids {
			if slices.Contains(ids[:j], id) {
				continue
			}
			for _, t := range truth {
				if uint64(t) == id {
					hits++
					break
				}
			}
		}
	}
	return float64(hits) / float64(len(found)*kk)
}
