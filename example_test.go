package nearkit_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

// Every index is driven through nearkit.Index; filters and errors are
// shared by all of them.
func Example() {
	var idx nearkit.Index
	idx, err := flat.New(flat.Config{Dim: 2, Metric: distance.L2})
	if err != nil {
		panic(err)
	}
	ids := []uint64{10, 11, 12, 13}
	vecs := []float32{0, 0, 1, 0, 0, 2, 3, 3}
	if err := idx.AddBatch(context.Background(), ids, vecs); err != nil {
		panic(err)
	}

	show := func(label string, rs []nearkit.Result) {
		fmt.Print(label)
		for _, r := range rs {
			fmt.Printf(" %d (%.2f)", r.ID, r.Distance)
		}
		fmt.Println()
	}
	res, _ := idx.Search(nil, []float32{0.1, 0}, 2, nearkit.SearchOptions{})
	show("nearest:", res)

	allow := nearkit.NewAllowList(64)
	allow.Set(12)
	allow.Set(13)
	res, _ = idx.Search(nil, []float32{0.1, 0}, 2, nearkit.SearchOptions{Filter: allow})
	show("allowed 12,13:", res)

	_, err = idx.Search(nil, []float32{1, 2, 3}, 2, nearkit.SearchOptions{})
	fmt.Println("wrong dimension:", errors.Is(err, nearkit.ErrDimension))
	// Output:
	// nearest: 10 (0.01) 11 (0.81)
	// allowed 12,13: 12 (4.01) 13 (17.41)
	// wrong dimension: true
}
