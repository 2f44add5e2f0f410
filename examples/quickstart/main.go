// Command quickstart is the README's snippet as a program: an HNSW index
// over cosine similarity, built, searched, filtered, trimmed by a delete,
// saved crash-safely, memory-mapped back and searched again.
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

func main() {
	const n, dim = 5000, 64
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]uint64, n)
	vecs := make([]float32, n*dim)
	for i := range ids {
		ids[i] = uint64(1000 + i) // any uint64 IDs; here 1000..5999
	}
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}

	idx, err := hnsw.New(hnsw.Config{Dim: dim, Metric: distance.Cosine})
	check(err)
	check(idx.AddBatch(context.Background(), ids, vecs))
	fmt.Printf("added %d vectors of dim %d (kernels: %s)\n", idx.Len(), idx.Dim(), distance.Implementation())

	// Query with a noisy copy of vector 1042: it should come first.
	q := make([]float32, dim)
	for i := range q {
		q[i] = vecs[42*dim+i] + 0.1*float32(rng.NormFloat64())
	}
	show := func(what string, opts nearkit.SearchOptions) {
		res, err := idx.Search(nil, q, 3, opts)
		check(err)
		fmt.Printf("%s:", what)
		for _, r := range res {
			fmt.Printf("  %d (%.3f)", r.ID, r.Distance)
		}
		fmt.Println()
	}
	show("nearest", nearkit.SearchOptions{Ef: 64})
	show("IDs divisible by 3", nearkit.SearchOptions{Filter: nearkit.FilterFunc(func(id uint64) bool { return id%3 == 0 })})

	check(idx.Delete(1042))
	show("after deleting 1042", nearkit.SearchOptions{})

	path := filepath.Join(os.TempDir(), "quickstart.hnsw")
	check(idx.Save(path)) // temporary file, fsync, rename: never a torn file
	defer os.Remove(path)
	check(idx.Close())

	idx, err = hnsw.Open(path, hnsw.OpenOptions{}) // memory-mapped, read-only
	check(err)
	defer idx.Close()
	fmt.Printf("opened %s: %d vectors, %d bytes mapped\n", path, idx.Len(), idx.MappedBytes())
	show("after reopening", nearkit.SearchOptions{})
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
