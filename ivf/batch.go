package ivf

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
)

// batchBlock is the most queries a SearchBatch worker takes at a time.
// Their probes are grouped by list, so that a list probed by several of
// them is read once for all (FAISS's batched search); more queries per
// block share more lists, at the cost of one scratch each.
const batchBlock = 64

// groupRows is the rows of a Flat list that every query of a block probing
// it scores before the next rows are read: 64×Dim float32s stay in L2
// for dimensions up to a few thousand. It divides scanRows, so that a row
// is scored by the same kernel call shape as in Search and the distances
// agree to the bit.
const groupRows = 64

// visit is one probe of query q of a block.
type visit struct {
	list, q uint32
	base    float32
}

// SearchBatch searches len(queries)/Dim contiguous queries on
// runtime.GOMAXPROCS(0) goroutines and returns one result slice per query,
// the results Search would return. Every query is checked before any is
// searched; ctx is checked between blocks of queries. Each goroutine takes
// up to batchBlock queries at a time and scans each list their probes
// share once for all of them (the fast-scan encoding, whose tables are
// quantized per query over all its probes, scans per query). Errors are
// those of Search, and ctx.Err().
func (x *Index) SearchBatch(ctx context.Context, queries []float32, k int, opts nearkit.SearchOptions) ([][]nearkit.Result, error) {
	if err := check.K(k); err != nil {
		return nil, err
	}
	if err := check.Vectors(queries, x.cfg.Dim); err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	if opts.NProbe < 0 || opts.Rerank < 0 {
		return nil, fmt.Errorf("%w: ivf: negative NProbe or Rerank", nearkit.ErrInvalidConfig)
	}
	dim := x.cfg.Dim
	nq := len(queries) / dim
	out := make([][]nearkit.Result, nq)
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.n == 0 || nq == 0 {
		return out, nil
	}
	p, err := x.plan(k, opts)
	if err != nil {
		return nil, err
	}
	// One backing array for all results: nq small allocations would cost
	// more than the search of a small list.
	backing := make([]nearkit.Result, nq*p.k)
	workers := min(runtime.GOMAXPROCS(0), nq)
	// Blocks small enough that every worker gets some.
	block := min(batchBlock, (nq+workers-1)/workers)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range workers {
		wg.Go(func() {
			var ss []*scratch
			var visits []visit
			defer func() {
				for _, s := range ss {
					x.pool.Put(s)
				}
			}()
			for {
				b0 := int(next.Add(int64(block))) - block
				if b0 >= nq {
					return
				}
				if err := ctx.Err(); err != nil {
					errOnce.Do(func() { first = err })
					return
				}
				b1 := min(b0+block, nq)
				for len(ss) < b1-b0 {
					ss = append(ss, x.getScratch())
				}
				visits = x.searchBlock(ss[:b1-b0], visits[:0], queries[b0*dim:b1*dim], &p)
				for j, s := range ss[:b1-b0] {
					i := b0 + j
					out[i] = x.finish(s, backing[i*p.k:i*p.k:(i+1)*p.k], &p)
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}

// searchBlock fills the candidate heaps of ss[j] for query j of queries,
// list by list, and returns visits for reuse.
func (x *Index) searchBlock(ss []*scratch, visits []visit, queries []float32, p *plan) []visit {
	dim := x.cfg.Dim
	for j, s := range ss {
		x.begin(s, queries[j*dim:(j+1)*dim], p)
	}
	if x.cfg.Encoding == PQFastScan {
		for _, s := range ss {
			x.scanFastScan(s, p.f, p.pool, p.rerank > 0)
		}
		return visits
	}
	for j, s := range ss {
		for _, pr := range s.probes {
			visits = append(visits, visit{list: pr.list, q: uint32(j), base: pr.base})
		}
	}
	slices.SortFunc(visits, func(a, b visit) int {
		return cmp.Or(cmp.Compare(a.list, b.list), cmp.Compare(a.q, b.q))
	})
	for i := 0; i < len(visits); {
		j := i + 1
		for j < len(visits) && visits[j].list == visits[i].list {
			j++
		}
		x.scanShared(ss, visits[i:j], p.f)
		i = j
	}
	return visits
}

// scanShared scans one list for every query of run (all visits of that
// list): Flat row block by row block, so that each block is read from
// memory once; SQ8 and PQ query after query, their codes staying in cache
// from one query to the next.
func (x *Index) scanShared(ss []*scratch, run []visit, f nearkit.Filter) {
	li := run[0].list
	n := len(x.lists[li].ids)
	switch x.cfg.Encoding {
	case Flat:
		for lo := 0; lo < n; lo += groupRows {
			hi := min(lo+groupRows, n)
			for _, v := range run {
				x.flatRows(ss[v.q], f, li, lo, hi)
			}
		}
	case SQ8:
		for _, v := range run {
			x.sq8Rows(ss[v.q], f, li, 0, n)
		}
	case PQ:
		for _, v := range run {
			x.scanPQList(ss[v.q], f, probe{list: li, base: v.base})
		}
	}
}
