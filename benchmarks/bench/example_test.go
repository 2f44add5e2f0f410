package bench_test

import (
	"fmt"

	"github.com/nearkit/nearkit/benchmarks/bench"
)

func ExampleRecall() {
	// Exact top-3 of two queries (base row numbers, nearest first).
	gt := &bench.GroundTruth{K: 3, IDs: []int32{
		4, 8, 15,
		16, 23, 42,
	}}
	// What an approximate index returned.
	found := [][]uint64{
		{8, 4, 99}, // 2 of 3
		{16, 23, 42},
	}
	fmt.Printf("recall@3 = %.3f\n", bench.Recall(found, gt, 3))
	fmt.Printf("recall@1 = %.3f\n", bench.Recall(found, gt, 1))
	// Output:
	// recall@3 = 0.833
	// recall@1 = 0.500
}
