// Command prof profiles one ivf configuration on an fvecs base/query pair:
//
//	go run ./ivf/_bench/prof -base B.fvecs -query Q.fvecs -enc pqfs -rerank 10 -cpuprofile cpu.out
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"runtime/pprof"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/ivf"
)

func readFvecs(path string) ([]float32, int) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	dim := int(binary.LittleEndian.Uint32(b))
	row := 4 + 4*dim
	n := len(b) / row
	out := make([]float32, 0, n*dim)
	for i := range n {
		r := b[i*row+4 : (i+1)*row]
		for j := range dim {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(r[4*j:])))
		}
	}
	return out, dim
}

// readIvecs reads an ivecs file of rows of equal length.
func readIvecs(path string) ([]int32, int) {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	k := int(binary.LittleEndian.Uint32(b))
	row := 4 + 4*k
	out := make([]int32, 0, len(b)/row*k)
	for i := range len(b) / row {
		for j := range k {
			out = append(out, int32(binary.LittleEndian.Uint32(b[i*row+4+4*j:])))
		}
	}
	return out, k
}

func main() {
	base := flag.String("base", "", "base fvecs")
	query := flag.String("query", "", "query fvecs")
	enc := flag.String("enc", "pqfs", "flat, sq8, pq or pqfs")
	nlist := flag.Int("nlist", 256, "lists")
	m := flag.Int("m", 16, "PQ subquantizers")
	nprobe := flag.Int("nprobe", 4, "lists probed")
	rerank := flag.Int("rerank", 0, "re-ranking factor")
	nq := flag.Int("nq", 2000, "queries")
	cpu := flag.String("cpuprofile", "", "CPU profile file")
	gtPath := flag.String("gt", "", "ground-truth ivecs (nearest first): also report recall@10")
	flag.Parse()
	data, dim := readFvecs(*base)
	queries, _ := readFvecs(*query)
	e := map[string]ivf.Encoding{"flat": ivf.Flat, "sq8": ivf.SQ8, "pq": ivf.PQ, "pqfs": ivf.PQFastScan}[*enc]
	x, err := ivf.New(ivf.Config{Dim: dim, NList: *nlist, Encoding: e, M: *m, KeepVectors: *rerank > 0 && e != ivf.Flat})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	ids := make([]uint64, len(data)/dim)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.Train(ctx, data); err != nil {
		log.Fatal(err)
	}
	if err := x.AddBatch(ctx, ids, data); err != nil {
		log.Fatal(err)
	}
	if *cpu != "" {
		f, _ := os.Create(*cpu)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	opts := nearkit.SearchOptions{NProbe: *nprobe, Rerank: *rerank}
	var dst []nearkit.Result
	n := min(*nq, len(queries)/dim)
	t0 := time.Now()
	for rep := 0; rep < 3; rep++ {
		for i := range n {
			dst, _ = x.Search(dst[:0], queries[i*dim:(i+1)*dim], 10, opts)
		}
	}
	el := time.Since(t0)
	fmt.Printf("%s nprobe=%d rerank=%d: %.1f µs/query", *enc, *nprobe, *rerank, float64(el.Microseconds())/float64(3*n))
	if *gtPath != "" {
		gt, gk := readIvecs(*gtPath)
		hits := 0
		for i := range n {
			dst, _ = x.Search(dst[:0], queries[i*dim:(i+1)*dim], 10, opts)
			for _, r := range dst {
				for _, g := range gt[i*gk : i*gk+10] {
					if uint64(g) == r.ID {
						hits++
					}
				}
			}
		}
		fmt.Printf(", recall@10 %.4f", float64(hits)/float64(10*n))
	}
	fmt.Println()
}
