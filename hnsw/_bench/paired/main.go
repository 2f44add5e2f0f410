// Command paired measures single-thread hnsw search on one saved index, for
// paired before/after comparisons (see ../paired.sh). It uses only the
// public API that every version of package hnsw since the first search
// core has, so the same source builds against an older checkout.
//
//	paired -build -index fm.hnsw -quant sq8   # build, optimise, save once
//	paired -index fm.hnsw -ef 10,20,40,80,120,200
//
// A run loads the index and the queries, then for each ef searches every
// query once (warm-up) and then in whole passes until -mintime has passed,
// and prints one line per ef: "ef qps recall distances-per-query".
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/bench"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

func main() {
	var (
		build   = flag.Bool("build", false, "build the index from the base set and save it to -index")
		path    = flag.String("index", "", "index file")
		quant   = flag.String("quant", "none", "with -build: none, sq8 or qgraph")
		m       = flag.Int("M", 16, "with -build: links per node")
		efc     = flag.Int("efc", 200, "with -build: efConstruction")
		efs     = flag.String("ef", "10,20,40,80,120,200", "beam widths, comma-separated")
		k       = flag.Int("k", 10, "neighbours per query")
		minTime = flag.Duration("mintime", time.Second, "least time per ef")
		nq      = flag.Int("queries", 0, "use the first N queries (0: all)")
		spec    = flag.String("dataset", "fashion-mnist", "data set (as nearbench -dataset)")
		metric  = flag.String("metric", "l2", "l2, ip or cosine")
		qgm     = flag.Int("qgm", 0, "with -build -quant qgraph: subquantizers (0: the default)")
		cpuProf = flag.String("cpuprofile", "", "write a CPU profile of the timed searches to `FILE`")
	)
	flag.Parse()
	log.SetFlags(0)
	if *path == "" {
		log.Fatal("paired: -index is required")
	}
	mt, err := distance.ParseMetric(*metric)
	if err != nil {
		log.Fatal(err)
	}
	ds, err := dataset.Load(*spec, dataset.Options{Metric: mt})
	if err != nil {
		log.Fatal(err)
	}
	if *build {
		if err := buildIndex(ds, *path, *quant, *m, *efc, *qgm); err != nil {
			log.Fatal(err)
		}
		return
	}
	x, err := hnsw.Load(*path)
	if err != nil {
		log.Fatal(err)
	}
	gt, err := bench.EnsureGroundTruth(context.Background(), ds, *k, func(string, ...any) {}, nil)
	if err != nil {
		log.Fatal(err)
	}
	queries := ds.Queries
	if *nq > 0 {
		queries = queries[:min(*nq, ds.NQ())*ds.Dim]
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, f := range strings.Split(*efs, ",") {
		ef, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatalf("paired: -ef %q: %v", f, err)
		}
		qps, recall, dists := measure(x, queries, ds.Dim, *k, ef, *minTime, gt)
		fmt.Printf("%d\t%.1f\t%.4f\t%.1f\n", ef, qps, recall, dists)
	}
}

func buildIndex(ds *dataset.Dataset, path, quant string, m, efc, qgm int) error {
	cfg := hnsw.Config{Dim: ds.Dim, Metric: ds.Metric, M: m, EfConstruction: efc, Seed: 1}
	switch quant {
	case "none":
	case "sq8":
		cfg.Quantization = hnsw.SQ8
	case "qgraph":
		cfg.Quantization, cfg.QGraphSubspaces = hnsw.QGraph, qgm
	default:
		return fmt.Errorf("paired: -quant %q: want none, sq8 or qgraph", quant)
	}
	x, err := hnsw.New(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	if cfg.Quantization != hnsw.NoQuantization {
		if err := x.Train(ctx, ds.Base); err != nil {
			return err
		}
	}
	ids := make([]uint64, ds.N())
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.AddBatch(ctx, ids, ds.Base); err != nil {
		return err
	}
	if err := x.Optimize(ctx); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "built %d vectors in %v\n", x.Len(), time.Since(start).Round(time.Millisecond))
	return x.Save(path)
}

// measure returns single-thread queries per second, recall@k and distance
// computations per query at beam width ef.
func measure(x *hnsw.Index, queries []float32, dim, k, ef int, minTime time.Duration, gt *bench.GroundTruth) (qps, recall, dists float64) {
	nq := len(queries) / dim
	opts := nearkit.SearchOptions{Ef: ef}
	found := make([][]uint64, nq)
	var st nearkit.SearchStats
	dst := make([]nearkit.Result, 0, k)
	for i := range nq {
		var err error
		dst, err = x.SearchWithStats(dst[:0], queries[i*dim:(i+1)*dim], k, opts, &st)
		if err != nil {
			log.Fatal(err)
		}
		found[i] = make([]uint64, len(dst))
		for j, r := range dst {
			found[i][j] = r.ID
		}
	}
	recall = bench.Recall(found, gt, k)
	dists = float64(st.Distances) / float64(nq)
	done := 0
	start := time.Now()
	for done == 0 || time.Since(start) < minTime {
		for i := range nq {
			dst, _ = x.Search(dst[:0], queries[i*dim:(i+1)*dim], k, opts)
		}
		done += nq
	}
	return float64(done) / time.Since(start).Seconds(), recall, dists
}
