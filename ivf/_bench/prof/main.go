// Command prof times and profiles ivf configurations on a data set that
// benchmarks/dataset loads (fashion-mnist, synthetic, a path prefix X of
// X_base.fvecs/X_query.fvecs…):
//
//	go run ./ivf/_bench/prof -dataset fashion-mnist -enc pqfs -m 32 \
//	    -nprobe 8,16 -rerank 0,4 -index /tmp/fm-pqfs32.ivf -cpuprofile cpu.out
//
// With -index the built index is saved to that file, and read back from it
// on the next run, so that two builds of the package (A/B) can be timed
// alternately on the same index without training it twice. Recall@k is
// measured against the ground truth nearbench caches for the data set
// (run nearbench once to compute it); without it only times are printed.
// Times are the median over -reps passes of µs per single-thread Search.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/ivf"
)

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatalf("bad list %q: %v", s, err)
		}
		out = append(out, v)
	}
	return out
}

func build(ds *dataset.Dataset, cfg ivf.Config, path string) *ivf.Index {
	if path != "" {
		if f, err := os.Open(path); err == nil {
			defer f.Close()
			x, err := ivf.Read(bufio.NewReader(f))
			if err != nil {
				log.Fatalf("%s: %v", path, err)
			}
			if c := x.Config(); c.Encoding != cfg.Encoding || c.M != cfg.M || c.NList != cfg.NList || c.KeepVectors != cfg.KeepVectors {
				log.Fatalf("%s holds another configuration: %+v", path, c)
			}
			return x
		}
	}
	x, err := ivf.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Now()
	if err := x.Train(ctx, ds.Base); err != nil {
		log.Fatal(err)
	}
	ids := make([]uint64, ds.N())
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.AddBatch(ctx, ids, ds.Base); err != nil {
		log.Fatal(err)
	}
	log.Printf("built in %v", time.Since(t0).Round(time.Millisecond))
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		w := bufio.NewWriter(f)
		if _, err := x.WriteTo(w); err != nil {
			log.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
	}
	return x
}

func main() {
	spec := flag.String("dataset", "fashion-mnist", "data set (see benchmarks/dataset.Load)")
	n := flag.Int("n", 0, "synthetic: base vectors (default the generator's)")
	dim := flag.Int("dim", 0, "synthetic: dimension (default the generator's)")
	enc := flag.String("enc", "pqfs", "flat, sq8, pq or pqfs")
	nlist := flag.Int("nlist", 256, "lists")
	m := flag.Int("m", 16, "PQ subquantizers")
	nprobes := flag.String("nprobe", "8", "lists probed (comma list)")
	reranks := flag.String("rerank", "0", "re-ranking factors (comma list)")
	k := flag.Int("k", 10, "neighbours per query")
	nq := flag.Int("nq", 1000, "queries")
	reps := flag.Int("reps", 5, "timed passes over the queries (median reported)")
	path := flag.String("index", "", "index file: read if it exists, else built and written")
	cpu := flag.String("cpuprofile", "", "CPU profile file")
	flag.Parse()

	ds, err := dataset.Load(*spec, dataset.Options{Queries: *nq, Synthetic: dataset.SyntheticConfig{N: *n, Dim: *dim}})
	if err != nil {
		log.Fatal(err)
	}
	e, ok := map[string]ivf.Encoding{"flat": ivf.Flat, "sq8": ivf.SQ8, "pq": ivf.PQ, "pqfs": ivf.PQFastScan}[*enc]
	if !ok {
		log.Fatalf("unknown encoding %q", *enc)
	}
	rr := ints(*reranks)
	keep := e != ivf.Flat && slices.Max(rr) > 0
	x := build(ds, ivf.Config{Dim: ds.Dim, NList: *nlist, Encoding: e, M: *m, KeepVectors: keep, Seed: 1}, *path)

	var gt []int32
	gk := 0
	for _, p := range ds.GTPaths {
		if ids, kk, err := dataset.LoadIvecs(p, 0); err == nil && len(ids)/kk >= ds.NQ() {
			gt, gk = ids, kk
			break
		}
	}
	if *cpu != "" {
		f, err := os.Create(*cpu)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	d := ds.Dim
	q := ds.NQ()
	dst := make([]nearkit.Result, 0, *k)
	for _, r := range rr {
		for _, np := range ints(*nprobes) {
			opts := nearkit.SearchOptions{NProbe: np, Rerank: r}
			times := make([]float64, *reps)
			for rep := range times {
				t0 := time.Now()
				for i := range q {
					dst, _ = x.Search(dst[:0], ds.Queries[i*d:(i+1)*d], *k, opts)
				}
				times[rep] = float64(time.Since(t0).Nanoseconds()) / 1e3 / float64(q)
			}
			slices.Sort(times)
			allocs := testing.AllocsPerRun(100, func() {
				dst, _ = x.Search(dst[:0], ds.Queries[:d], *k, opts)
			})
			fmt.Printf("%s m=%d nlist=%d nprobe=%d rerank=%d: %.1f µs/query (%.0f QPS), %.0f allocs/search",
				*enc, *m, *nlist, np, r, times[len(times)/2], 1e6/times[len(times)/2], allocs)
			if gt != nil && gk >= *k {
				hits := 0
				for i := range q {
					dst, _ = x.Search(dst[:0], ds.Queries[i*d:(i+1)*d], *k, opts)
					for _, res := range dst {
						if slices.Contains(gt[i*gk:i*gk+*k], int32(res.ID)) {
							hits++
						}
					}
				}
				fmt.Printf(", recall@%d %.4f", *k, float64(hits)/float64(*k*q))
			}
			fmt.Println()
		}
	}
}
