// Command quickstart builds an exact index over a few thousand seeded random
// vectors, searches it, and prints the neighbours and the distance kernels
// in use on this machine.
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

func main() {
	const (
		n   = 5000
		dim = 128
		k   = 5
	)
	rng := rand.New(rand.NewPCG(1, 2))
	vecs := make([]float32, n*dim)
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(1000 + i)
	}

	idx, err := flat.New(flat.Config{Dim: dim, Metric: distance.L2})
	if err != nil {
		log.Fatal(err)
	}
	if err := idx.AddBatch(context.Background(), ids, vecs); err != nil {
		log.Fatal(err)
	}

	// Query with a slightly perturbed copy of vector 42: it should come first.
	q := make([]float32, dim)
	copy(q, vecs[42*dim:43*dim])
	for i := range q {
		q[i] += 0.01 * float32(rng.NormFloat64())
	}
	res, err := idx.Search(nil, q, k, nearkit.SearchOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("nearkit quickstart: %d vectors of dim %d, kernels: %s\n", idx.Len(), idx.Dim(), distance.Implementation())
	fmt.Printf("query = vector id %d plus noise; %d nearest:\n", ids[42], k)
	for i, r := range res {
		fmt.Printf("  %d. id=%d  squared L2=%.4f\n", i+1, r.ID, r.Distance)
	}
}
