package flat_test

import (
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
