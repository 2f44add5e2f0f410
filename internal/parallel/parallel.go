// Package parallel splits loops over [0, n) into chunks run on up to
// GOMAXPROCS goroutines, for the quantizers' batch encoding and training.
package parallel

import (
	"context"
	"runtime"
	"sync"
)

// Chunks calls fn on the chunks [lo, hi) of [0, n), each at most chunk
// long, from up to GOMAXPROCS goroutines, and checks ctx before each chunk.
// Chunks start at multiples of chunk, so fn may index per-chunk results by
// lo/chunk. It returns ctx.Err() when the context ended before every chunk
// ran. chunk must be positive.
func Chunks(ctx context.Context, n, chunk int, fn func(lo, hi int)) error {
	workers := min(runtime.GOMAXPROCS(0), (n+chunk-1)/chunk)
	if workers <= 1 {
		for lo := 0; lo < n; lo += chunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(lo, min(lo+chunk, n))
		}
		return nil
	}
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				fn(lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}
