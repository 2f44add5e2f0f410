package ivf

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
)

// SearchBatch searches len(queries)/Dim contiguous queries on
// runtime.GOMAXPROCS(0) goroutines and returns one result slice per query,
// as Search would. Every query is checked before any is searched; ctx is
// checked between queries. Errors are those of Search, and ctx.Err().
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
	kk := min(k, x.n)
	// One backing array for all results: nq small allocations would cost
	// more than the search of a small list.
	backing := make([]nearkit.Result, nq*kk)
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	fail := func(err error) { errOnce.Do(func() { first = err }) }
	workers := min(runtime.GOMAXPROCS(0), nq)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := x.getScratch()
			defer x.pool.Put(s)
			for {
				i := int(next.Add(1) - 1)
				if i >= nq {
					return
				}
				if i%64 == 0 {
					if err := ctx.Err(); err != nil {
						fail(err)
						return
					}
				}
				res, err := x.search(s, backing[i*kk:i*kk:(i+1)*kk], queries[i*dim:(i+1)*dim], k, opts)
				if err != nil {
					fail(err)
					return
				}
				out[i] = res
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return out, nil
}
