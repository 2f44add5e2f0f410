// Command prof times and profiles ivf configurations on a data set that
// benchmarks/dataset loads (fashion-mnist, synthetic, a path prefix X of
// X_base.fvecs/X_query.fvecs…):
//
//	go run ./ivf/_bench/prof -dataset fashion-mnist -enc pqfs -m 28 \
//	    -nprobe 8,16 -rerank 0,4 -index /tmp/fm-pqfs28.ivf -cpuprofile cpu.out
//
// -runs times several indexes interleaved, pass after pass, for a
// recall/QPS comparison on one machine state:
//
//	go run ./ivf/_bench/prof -dataset fashion-mnist -nprobe 4,8,16 -rerank 0,4,16 \
//	    -runs pq:16:/tmp/fm-pq16.ivf,pqfs:28:/tmp/fm-pqfs28.ivf
//
// With -index the built index is saved to that file, and read back from it
// on the next run, so that two builds of the package (A/B) can be timed
// alternately on the same index without training it twice. Recall@k is
// measured against the ground truth nearbench caches for the data set
// (run nearbench once to compute it); without it only times are printed.
// Times are the median over -reps passes of µs per single-thread Search,
// wall and CPU time of the searching thread (Linux).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/bench"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/ivf"
	"golang.org/x/sys/unix"
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
			if c := x.Config(); c.Encoding != cfg.Encoding || c.M != cfg.M || c.NList != cfg.NList || cfg.KeepVectors && !c.KeepVectors {
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

// spec is one index of a run: its encoding, M and file.
type spec struct {
	enc  ivf.Encoding
	name string
	m    int
	path string
	x    *ivf.Index
}

// point is one timed configuration of one index.
type point struct {
	sp        *spec
	nprobe, r int
	wall, cpu []float64 // µs per query, one per pass
}

// threadCPU returns the CPU time of the calling OS thread: on a machine
// shared with other jobs it counts what a search costs, not the time it
// waited for a core.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func median(v []float64) float64 {
	w := slices.Clone(v)
	slices.Sort(w)
	return w[len(w)/2]
}

func main() {
	dsName := flag.String("dataset", "fashion-mnist", "data set (see benchmarks/dataset.Load)")
	n := flag.Int("n", 0, "synthetic: base vectors (default the generator's)")
	dim := flag.Int("dim", 0, "synthetic: dimension (default the generator's)")
	clusters := flag.Int("clusters", 0, "synthetic: clusters (default the generator's)")
	enc := flag.String("enc", "pqfs", "flat, sq8, pq or pqfs")
	nlist := flag.Int("nlist", 256, "lists")
	m := flag.Int("m", 16, "PQ subquantizers")
	path := flag.String("index", "", "index file: read if it exists, else built and written")
	runs := flag.String("runs", "", "indexes to time interleaved, enc:m:file,… (overrides -enc, -m, -index)")
	nprobes := flag.String("nprobe", "8", "lists probed (comma list)")
	reranks := flag.String("rerank", "0", "re-ranking factors (comma list)")
	k := flag.Int("k", 10, "neighbours per query")
	nq := flag.Int("nq", 1000, "queries")
	reps := flag.Int("reps", 5, "timed passes over the queries (median reported)")
	cpu := flag.String("cpuprofile", "", "CPU profile file")
	flag.Parse()

	ds, err := dataset.Load(*dsName, dataset.Options{Queries: *nq, Synthetic: dataset.SyntheticConfig{N: *n, Dim: *dim, Clusters: *clusters}})
	if err != nil {
		log.Fatal(err)
	}
	encs := map[string]ivf.Encoding{"flat": ivf.Flat, "sq8": ivf.SQ8, "pq": ivf.PQ, "pqfs": ivf.PQFastScan}
	var specs []*spec
	if *runs == "" {
		*runs = fmt.Sprintf("%s:%d:%s", *enc, *m, *path)
	}
	for _, r := range strings.Split(*runs, ",") {
		f := strings.SplitN(r, ":", 3)
		if len(f) != 3 {
			log.Fatalf("bad run %q: want enc:m:file", r)
		}
		e, ok := encs[f[0]]
		if !ok {
			log.Fatalf("unknown encoding %q", f[0])
		}
		mm, err := strconv.Atoi(f[1])
		if err != nil {
			log.Fatalf("bad M in %q", r)
		}
		specs = append(specs, &spec{enc: e, name: f[0], m: mm, path: f[2]})
	}
	rr := ints(*reranks)
	for _, sp := range specs {
		keep := sp.enc != ivf.Flat && slices.Max(rr) > 0
		sp.x = build(ds, ivf.Config{Dim: ds.Dim, NList: *nlist, Encoding: sp.enc, M: sp.m, KeepVectors: keep, Seed: 1}, sp.path)
	}

	// The ground truth nearbench uses: read from its cache, or computed
	// (exact, on every core) and cached.
	g, err := bench.EnsureGroundTruth(context.Background(), ds, *k, log.Printf, nil)
	if err != nil {
		log.Fatal(err)
	}
	gt, gk := g.IDs, g.K
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
	runtime.LockOSThread()
	d := ds.Dim
	q := ds.NQ()
	dst := make([]nearkit.Result, 0, *k)
	var pts []*point
	for _, sp := range specs {
		for _, r := range rr {
			for _, np := range ints(*nprobes) {
				pts = append(pts, &point{sp: sp, nprobe: np, r: r})
			}
		}
	}
	// Passes are interleaved: every point is timed once per round, so
	// that a change in the machine's load falls on all of them.
	for range *reps {
		for _, pt := range pts {
			opts := nearkit.SearchOptions{NProbe: pt.nprobe, Rerank: pt.r}
			t0, c0 := time.Now(), threadCPU()
			for i := range q {
				dst, _ = pt.sp.x.Search(dst[:0], ds.Queries[i*d:(i+1)*d], *k, opts)
			}
			pt.cpu = append(pt.cpu, float64((threadCPU()-c0).Nanoseconds())/1e3/float64(q))
			pt.wall = append(pt.wall, float64(time.Since(t0).Nanoseconds())/1e3/float64(q))
		}
	}
	for _, pt := range pts {
		x := pt.sp.x
		opts := nearkit.SearchOptions{NProbe: pt.nprobe, Rerank: pt.r}
		allocs := testing.AllocsPerRun(100, func() {
			dst, _ = x.Search(dst[:0], ds.Queries[:d], *k, opts)
		})
		w, c := median(pt.wall), median(pt.cpu)
		fmt.Printf("%s m=%d nlist=%d nprobe=%d rerank=%d: %.1f µs/query wall (%.0f QPS), %.1f µs/query thread CPU (%.0f QPS), %.0f allocs/search",
			pt.sp.name, pt.sp.m, *nlist, pt.nprobe, pt.r, w, 1e6/w, c, 1e6/c, allocs)
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
