package hnsw_test

import (
	"context"
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/hnsw"
)

func Example() {
	idx, err := hnsw.New(hnsw.Config{Dim: 2, M: 8, Seed: 1})
	if err != nil {
		panic(err)
	}
	// A 10×10 grid of points; ID = 10·x + y.
	for x := range 10 {
		for y := range 10 {
			if err := idx.Add(uint64(10*x+y), []float32{float32(x), float32(y)}); err != nil {
				panic(err)
			}
		}
	}
	res, err := idx.Search(nil, []float32{3.1, 4.2}, 3, nearkit.SearchOptions{Ef: 32})
	if err != nil {
		panic(err)
	}
	for _, r := range res {
		fmt.Printf("id %d at squared distance %.2f\n", r.ID, r.Distance)
	}
	// Output:
	// id 34 at squared distance 0.05
	// id 35 at squared distance 0.65
	// id 44 at squared distance 0.85
}

// After a bulk load, Optimize lays the index out in graph order; searches
// return the same results, faster.
func ExampleIndex_Optimize() {
	idx, err := hnsw.New(hnsw.Config{Dim: 2, M: 8, Seed: 1})
	if err != nil {
		panic(err)
	}
	ids := make([]uint64, 0, 400)
	vecs := make([]float32, 0, 800)
	for x := range 20 {
		for y := range 20 {
			ids = append(ids, uint64(20*x+y))
			vecs = append(vecs, float32(x), float32(y))
		}
	}
	if err := idx.AddBatch(context.Background(), ids, vecs); err != nil {
		panic(err)
	}
	if err := idx.Optimize(context.Background()); err != nil {
		panic(err)
	}
	res, err := idx.Search(nil, []float32{7.2, 11.9}, 2, nearkit.SearchOptions{Ef: 32})
	if err != nil {
		panic(err)
	}
	for _, r := range res {
		fmt.Printf("id %d at squared distance %.2f\n", r.ID, r.Distance)
	}
	// Output:
	// id 152 at squared distance 0.05
	// id 172 at squared distance 0.65
}
