package parallel

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestChunksCoversEachIndexOnce(t *testing.T) {
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 99, 100, 101, 1000} {
			seen := make([]atomic.Int32, n)
			err := Chunks(context.Background(), n, 100, func(lo, hi int) {
				if lo%100 != 0 || hi-lo > 100 || hi > n || lo >= hi {
					t.Errorf("procs=%d n=%d: chunk [%d,%d)", procs, n, lo, hi)
				}
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range seen {
				if c := seen[i].Load(); c != 1 {
					t.Fatalf("procs=%d n=%d: index %d run %d times", procs, n, i, c)
				}
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

func TestChunksCancelled(t *testing.T) {
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		ctx, cancel := context.WithCancel(context.Background())
		var ran atomic.Int32
		err := Chunks(ctx, 10000, 10, func(lo, hi int) {
			if ran.Add(1) == 3 {
				cancel()
			}
		})
		runtime.GOMAXPROCS(prev)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("procs=%d: err %v", procs, err)
		}
		if r := ran.Load(); r >= 1000 {
			t.Fatalf("procs=%d: all %d chunks ran after cancel", procs, r)
		}
	}
}
