package flat_test

import (
	"context"
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

func Example() {
	idx, err := flat.New(flat.Config{Dim: 2, Metric: distance.L2})
	if err != nil {
		panic(err)
	}
	points := map[uint64][]float32{
		10: {0, 0},
		11: {1, 0},
		12: {0, 2},
		13: {5, 5},
	}
	for id, v := range points {
		if err := idx.Add(id, v); err != nil {
			panic(err)
		}
	}
	res, err := idx.Search(nil, []float32{0.5, 0}, 3, nearkit.SearchOptions{})
	if err != nil {
		panic(err)
	}
	// 10 and 11 are equally far: ties come out by ascending ID.
	for _, r := range res {
		fmt.Printf("id=%d squared-distance=%.2f\n", r.ID, r.Distance)
	}
	// Output:
	// id=10 squared-distance=0.25
	// id=11 squared-distance=0.25
	// id=12 squared-distance=4.25
}

// SearchBatch answers many queries at once on all cores; an AllowList
// restricts the answers to the IDs it holds.
func ExampleIndex_SearchBatch() {
	idx, err := flat.New(flat.Config{Dim: 3, Metric: distance.Cosine})
	if err != nil {
		panic(err)
	}
	ids := []uint64{1, 2, 3, 4}
	vecs := []float32{
		1, 0, 0,
		0, 1, 0,
		0, 0, 1,
		1, 1, 0,
	}
	if err := idx.AddBatch(context.Background(), ids, vecs); err != nil {
		panic(err)
	}
	allow := nearkit.NewAllowList(8)
	allow.Set(2)
	allow.Set(3)
	queries := []float32{
		2, 0.1, 0, // near 1, then 4
		0, 3, 0.5, // near 2, then 3
	}
	res, err := idx.SearchBatch(context.Background(), queries, 2, nearkit.SearchOptions{Filter: allow})
	if err != nil {
		panic(err)
	}
	for i, rs := range res {
		fmt.Print("query ", i, ":")
		for _, r := range rs {
			fmt.Printf(" %d (%.3f)", r.ID, r.Distance)
		}
		fmt.Println()
	}
	// Output:
	// query 0: 2 (0.950) 3 (1.000)
	// query 1: 2 (0.014) 3 (0.836)
}
