package ivf_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/ivf"
)

func Example() {
	const dim, n = 16, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = rng.Float32()
	}
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	// 8-byte residual PQ codes, float32 vectors kept for re-ranking.
	idx, err := ivf.New(ivf.Config{Dim: dim, NList: 16, Encoding: ivf.PQ, M: 8, KeepVectors: true})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := idx.Train(ctx, data); err != nil {
		panic(err)
	}
	if err := idx.AddBatch(ctx, ids, data); err != nil {
		panic(err)
	}
	res, err := idx.Search(nil, data[42*dim:43*dim], 3, nearkit.SearchOptions{NProbe: 4, Rerank: 8})
	if err != nil {
		panic(err)
	}
	fmt.Println(res[0].ID, res[0].Distance)
	// Output: 42 0
}
