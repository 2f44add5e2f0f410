// Command scale runs the ivf scale test: a synthetic clustered set written
// once to fvecs (10,000,000 × 96 by default), an IVF-PQ fast-scan index
// with an HNSW coarse quantizer (nlist 16,384) trained on a strided sample
// of the file, added from the mapped file a chunk at a time, and searched
// at nprobe 16…256 with re-ranking from the mapped fvecs (ivf.VectorFile):
// no step holds all vectors as float32 on the heap, except the one-time
// generation of the file.
//
//	go run ./ivf/_bench/scale -dir /var/tmp/nearkit-scale              # 10M × 96
//	go run ./ivf/_bench/scale -dir /tmp/s -n 1000000 -nlist 4096       # smaller
//
// With -index, the built index is saved there, and a later run with the
// same -index maps it with ivf.Open and only searches: the search figures
// can then be taken again on a quiet machine without rebuilding.
//
// It prints train and add times, the index's memory per vector, and
// recall@10 and single-thread QPS per nprobe. Ground truth (top 10 by
// brute force over the mapped file) is cached beside the data.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/ivf"
)

func main() {
	dir := flag.String("dir", "", "directory of the data files (required)")
	n := flag.Int("n", 10_000_000, "base vectors")
	dim := flag.Int("dim", 96, "dimension")
	nq := flag.Int("nq", 1000, "queries")
	nlist := flag.Int("nlist", 16384, "inverted lists")
	m := flag.Int("m", 32, "PQ subquantizers (4-bit fast-scan: m/2 bytes per vector)")
	train := flag.Int("train", 20*16384, "training sample (strided over the file)")
	iters := flag.Int("iter", 10, "k-means iterations")
	nprobes := flag.String("nprobe", "16,32,64,128,256", "nprobe sweep")
	rerank := flag.Int("rerank", 10, "re-ranking factor (from the mapped fvecs)")
	genOnly := flag.Bool("gen-only", false, "write the data files and ground truth, and stop")
	indexPath := flag.String("index", "", "index file: opened with ivf.Open (mapped) when it exists, else written after the build")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	ctx := context.Background()
	prefix := filepath.Join(*dir, fmt.Sprintf("synth-n%d-d%d", *n, *dim))
	basePath, queryPath, gtPath := prefix+"_base.fvecs", prefix+"_query.fvecs", prefix+"_gt10.ivecs"
	if _, err := os.Stat(basePath); err != nil {
		t0 := time.Now()
		base, queries, err := dataset.Synthetic(dataset.SyntheticConfig{N: *n, Queries: *nq, Dim: *dim, Clusters: 1000, Seed: 1})
		if err != nil {
			log.Fatal(err)
		}
		must(os.MkdirAll(*dir, 0o755))
		must(dataset.SaveFvecs(queryPath, queries, *dim))
		must(dataset.SaveFvecs(basePath, base, *dim))
		base = nil
		runtime.GC()
		log.Printf("generated %s in %.0fs", basePath, time.Since(t0).Seconds())
	}
	vf, err := ivf.OpenVectorFile(basePath, *dim)
	must(err)
	defer vf.Close()
	queries, qdim, err := dataset.LoadVecs(queryPath, *nq)
	must(err)
	if qdim != *dim || vf.Len() != *n {
		log.Fatalf("files do not match -n %d -dim %d", *n, *dim)
	}
	nQ := len(queries) / *dim
	gt := groundTruth(vf, queries, *dim, gtPath)
	if *genOnly {
		return
	}

	var x *ivf.Index
	if _, err := os.Stat(*indexPath); *indexPath != "" && err == nil {
		t0 := time.Now()
		x, err = ivf.Open(*indexPath, ivf.OpenOptions{})
		must(err)
		defer x.Close()
		x.SetVectors(vf)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("%s: opened %s (mapped) in %.1fs, CPU %s; MemoryUsage %.1f bytes/vector, Go heap %.1f bytes/vector\n",
			prefix, *indexPath, time.Since(t0).Seconds(), cpuModel(),
			float64(x.MemoryUsage())/float64(*n), float64(ms.HeapInuse)/float64(*n))
	} else {
		x = build(ctx, vf, prefix, *n, *dim, *nlist, *m, *train, *iters)
		if *indexPath != "" {
			t0 := time.Now()
			must(x.Save(*indexPath))
			log.Printf("saved %s in %.0fs", *indexPath, time.Since(t0).Seconds())
		}
	}

	fmt.Printf("%8s %8s %10s %10s\n", "nprobe", "rerank", "recall@10", "QPS")
	var dst []nearkit.Result
	for _, s := range strings.Split(*nprobes, ",") {
		np, err := strconv.Atoi(s)
		must(err)
		opts := nearkit.SearchOptions{NProbe: np, Rerank: *rerank}
		hits := 0
		t0 := time.Now()
		for i := range nQ {
			dst, err = x.Search(dst[:0], queries[i**dim:(i+1)**dim], 10, opts)
			must(err)
			for _, r := range dst {
				if slices.Contains(gt[i*10:(i+1)*10], int32(r.ID)) {
					hits++
				}
			}
		}
		el := time.Since(t0)
		fmt.Printf("%8d %8d %10.4f %10.0f\n", np, *rerank, float64(hits)/float64(10*nQ), float64(nQ)/el.Seconds())
	}
}

// build trains the index on a strided sample of the mapped file and adds
// every row a chunk at a time, printing wall and CPU time of each step (CPU
// time tells the work when other processes share the cores).
func build(ctx context.Context, vf *ivf.VectorFile, prefix string, n, dim, nlist, m, train, iters int) *ivf.Index {
	x, err := ivf.New(ivf.Config{Dim: dim, NList: nlist, Encoding: ivf.PQFastScan, M: m, Coarse: ivf.CoarseHNSW,
		Iterations: iters, PointsPerList: max(1, train/nlist)})
	must(err)
	t0, c0 := time.Now(), cpuTime()
	stride := max(1, n/train)
	sample := make([]float32, 0, min(train, n)*dim)
	for i := 0; i < n && len(sample) < cap(sample); i += stride {
		sample = append(sample, row(vf, i)...)
	}
	must(x.Train(ctx, sample))
	trainT, trainC := time.Since(t0), cpuTime()-c0
	sample = nil
	log.Printf("trained on %d vectors, %d iterations, in %.0fs (CPU %.0fs)", min(train, n), iters, trainT.Seconds(), trainC.Seconds())

	t0, c0 = time.Now(), cpuTime()
	const chunk = 100_000
	ids := make([]uint64, chunk)
	buf := make([]float32, chunk*dim)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		for i := lo; i < hi; i++ {
			ids[i-lo] = uint64(i)
			copy(buf[(i-lo)*dim:], row(vf, i))
		}
		must(x.AddBatch(ctx, ids[:hi-lo], buf[:(hi-lo)*dim]))
	}
	addT, addC := time.Since(t0), cpuTime()-c0
	buf = nil
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	x.SetVectors(vf)
	fmt.Printf("%s: %d×%d, nlist %d, fast-scan m=%d (%d code bytes), HNSW coarse, CPU %s\n",
		prefix, n, dim, nlist, m, m/2, cpuModel())
	fmt.Printf("train %.0fs, CPU %.0fs (%d vectors, %d iterations), add %.0fs, CPU %.0fs; MemoryUsage %.1f bytes/vector, Go heap %.1f bytes/vector\n",
		trainT.Seconds(), trainC.Seconds(), min(train, n), iters, addT.Seconds(), addC.Seconds(),
		float64(x.MemoryUsage())/float64(n), float64(ms.HeapInuse)/float64(n))
	st := x.Stats()
	fmt.Printf("stats: %+v\n", st)
	per := func(b int64) float64 { return float64(b) / float64(n) }
	fmt.Printf("bytes/vector: entries %.2f (code %d + ID 8), spare capacity %.2f, ID filter %.2f, fixed %.2f (centroids, tables, coarse graph)\n\n",
		per(st.Memory.Entries), m/2, per(st.Memory.Spare), per(st.Memory.IDs), per(st.Memory.Fixed))

	return x
}

// row returns base vector i, a view of the mapped file.
func row(vf *ivf.VectorFile, i int) []float32 {
	v, ok := vf.Vector(uint64(i), make([]float32, 0))
	if !ok {
		log.Fatalf("row %d unreadable", i)
	}
	return v
}

// groundTruth returns the 10 nearest base rows of every query (L2), from
// path when cached, else by brute force over the mapped file on all cores.
// The file is read once: each worker takes a block of base rows small
// enough to stay in its L2 cache and scores every query against it, so
// the cost is the arithmetic, not nq passes over gigabytes.
func groundTruth(vf *ivf.VectorFile, queries []float32, dim int, path string) []int32 {
	nq := len(queries) / dim
	if gt, k, err := dataset.LoadIvecs(path, nq); err == nil && k == 10 && len(gt) == nq*10 {
		return gt
	}
	type hit struct {
		d  float32
		id int32
	}
	insert := func(top []hit, h hit) []hit {
		if len(top) == 10 && h.d >= top[9].d {
			return top
		}
		j, _ := slices.BinarySearchFunc(top, h.d, func(e hit, d float32) int {
			if e.d < d {
				return -1
			}
			return 1
		})
		top = slices.Insert(top, j, h)
		return top[:min(len(top), 10)]
	}
	t0 := time.Now()
	const block = 1024 // rows: 384 KiB at 96 dimensions
	workers := runtime.GOMAXPROCS(0)
	tops := make([][][]hit, workers) // per worker, per query
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		tops[w] = make([][]hit, nq)
		wg.Go(func() {
			out := make([]float32, block)
			for {
				lo := int(next.Add(block)) - block
				if lo >= vf.Len() {
					return
				}
				hi := min(lo+block, vf.Len())
				rows := make([][]float32, 0, block)
				for i := lo; i < hi; i++ {
					rows = append(rows, row(vf, i))
				}
				for qi := range nq {
					q := queries[qi*dim : (qi+1)*dim]
					for i, r := range rows {
						out[i] = distance.SquaredL2(q, r)
					}
					top := tops[w][qi]
					for i := range rows {
						top = insert(top, hit{out[i], int32(lo + i)})
					}
					tops[w][qi] = top
				}
			}
		})
	}
	wg.Wait()
	gt := make([]int32, nq*10)
	for qi := range nq {
		var top []hit
		for w := range workers {
			for _, h := range tops[w][qi] {
				top = insert(top, h)
			}
		}
		for j, h := range top {
			gt[qi*10+j] = h.id
		}
	}
	must(dataset.SaveIvecs(path, gt, 10))
	log.Printf("ground truth for %d queries in %.0fs", nq, time.Since(t0).Seconds())
	return gt
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return runtime.GOARCH
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
