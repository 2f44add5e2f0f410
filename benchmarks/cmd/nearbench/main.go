// Command nearbench measures nearkit's indexes the way ann-benchmarks does:
// recall@k against exact ground truth, single-thread QPS one query at a
// time, batched QPS on all threads, latency percentiles, build time and
// memory, over a sweep of search parameters.
//
// With no flags it runs flat (and hnsw when available) on a synthetic
// 20,000×128 embedding-like set in about a minute on two cores:
//
//	go run ./benchmarks/cmd/nearbench
//	go run ./benchmarks/cmd/nearbench -dataset fashion-mnist -index flat -json out.json
//	go run ./benchmarks/cmd/nearbench -dataset /data/sift/sift -index hnsw -M 16,32 -ef 10,40,160 -plot sift.png
//
// A -dataset other than synthetic and fashion-mnist is a path prefix X
// naming X_base.fvecs and X_query.fvecs (or .bvecs), with ground truth in
// X_gt.ivecs; missing ground truth is computed with flat and saved there.
// The table goes to stdout, notes to stderr, a progress bar to stderr when
// it is a terminal, one JSON object per point to -json.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/nearkit/nearkit/benchmarks/bench"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nearbench:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

// defaultIndexes are run when -index is not given, those that exist.
var defaultIndexes = []string{"flat", "hnsw"}

func run(args []string) error {
	fs := flag.NewFlagSet("nearbench", flag.ContinueOnError)
	var (
		dsName    = fs.String("dataset", "synthetic", "synthetic, fashion-mnist, or a path prefix X (X_base.fvecs, X_query.fvecs, X_gt.ivecs)")
		metricS   = fs.String("metric", "l2", "distance metric: l2, ip or cosine")
		indexS    = fs.String("index", "", "comma-separated index types (default: "+strings.Join(defaultIndexes, ",")+", those available)")
		mS        = fs.String("M", "16", "HNSW links per node (comma list: one build per value)")
		efcS      = fs.String("efc", "200", "HNSW construction beam width (comma list)")
		nlistS    = fs.String("nlist", "", "IVF number of lists (comma list)")
		pqmS      = fs.String("m", "", "PQ number of sub-quantizers (comma list)")
		efS       = fs.String("ef", "10,20,40,80,160,320", "HNSW search beam widths to sweep")
		nprobeS   = fs.String("nprobe", "1,2,4,8,16,32,64", "IVF lists probed, to sweep")
		rerankS   = fs.String("rerank", "", "IVF-PQ re-ranking factors to sweep, 0 = none (comma list)")
		opq       = fs.Bool("opq", false, "IVF-PQ: OPQ rotation before product quantization")
		k         = fs.Int("k", 10, "neighbours per query (recall@k)")
		queries   = fs.Int("queries", 0, "use only the first N queries (0: all)")
		threads   = fs.Int("threads", runtime.NumCPU(), "threads for builds and batched search (single-query QPS always uses one)")
		jsonPath  = fs.String("json", "", "append one JSON object per point to `FILE`")
		plotPath  = fs.String("plot", "", "write a recall vs QPS chart to `FILE` (.png, .svg or .pdf)")
		minTime   = fs.Duration("mintime", time.Second, "least time per single-thread and per batched measurement")
		minQ      = fs.Int("minqueries", 1000, "least number of single-thread queries per measurement")
		build1    = fs.Bool("build1", false, "also time a single-threaded build of every configuration")
		cacheDir  = fs.String("cache", "", "ground-truth cache directory (default $XDG_CACHE_HOME/nearkit-data or ~/.cache/nearkit-data)")
		seed      = fs.Uint64("seed", 1, "seed of the synthetic data and of randomised indexes")
		synthN    = fs.Int("n", 20000, "synthetic: number of base vectors")
		synthDim  = fs.Int("dim", 128, "synthetic: dimension")
		synthNQ   = fs.Int("nq", 1000, "synthetic: number of queries generated")
		noProgBar = fs.Bool("noprogress", false, "no progress bar even on a terminal")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: nearbench [flags]\n\nIndex types available: %s\n\nFlags:\n", strings.Join(bench.Available(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	metric, err := distance.ParseMetric(*metricS)
	if err != nil {
		return err
	}
	var p bench.Params
	for _, f := range []struct {
		name string
		s    string
		dst  *[]int
	}{{"M", *mS, &p.M}, {"efc", *efcS, &p.EfC}, {"nlist", *nlistS, &p.NList}, {"m", *pqmS, &p.PQM}, {"ef", *efS, &p.Ef}, {"nprobe", *nprobeS, &p.NProbe}} {
		if *f.dst, err = bench.ParseInts(f.s); err != nil {
			return fmt.Errorf("-%s: %w", f.name, err)
		}
	}
	p.Seed = *seed
	if p.Rerank, err = parseNonNegInts(*rerankS); err != nil {
		return fmt.Errorf("-rerank: %w", err)
	}
	p.OPQ = *opq
	if *threads < 1 || *k < 1 || *queries < 0 || *minQ < 0 || *minTime < 0 {
		return fmt.Errorf("%w: -threads, -k must be positive; -queries, -minqueries, -mintime not negative", errUsage)
	}

	var names []string
	if *indexS == "" {
		for _, n := range defaultIndexes {
			if slices.Contains(bench.Available(), n) {
				names = append(names, n)
			}
		}
	} else {
		for _, n := range strings.Split(*indexS, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	uses := map[string]bool{}
	for _, n := range names {
		b, err := bench.Lookup(n)
		if err != nil {
			return err
		}
		for _, u := range b.Uses {
			uses[u] = true
		}
	}

	var pb *bar
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "[nearbench] "+format+"\n", args...) }
	var prog bench.Progress
	if !*noProgBar && term.IsTerminal(int(os.Stderr.Fd())) {
		pb = &bar{w: os.Stderr}
		prog = pb
		logf = func(format string, args ...any) { pb.Logf("[nearbench] "+format, args...) }
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "M", "efc", "nlist", "m", "ef", "nprobe", "rerank", "opq":
			if !uses[f.Name] {
				logf("note: -%s is not used by %s", f.Name, strings.Join(names, ","))
			}
		case "n", "dim", "nq":
			if *dsName != "synthetic" {
				logf("note: -%s only applies to -dataset synthetic", f.Name)
			}
		}
	})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	nq := *queries
	if *dsName == "synthetic" && nq == 0 {
		nq = *synthNQ
	}
	t0 := time.Now()
	ds, err := dataset.Load(*dsName, dataset.Options{
		Metric:    metric,
		Queries:   nq,
		Synthetic: dataset.SyntheticConfig{N: *synthN, Dim: *synthDim, Seed: *seed},
		CacheDir:  *cacheDir,
	})
	if err != nil {
		return err
	}
	logf("%s: %d×%d base, %d queries, metric %v, loaded in %.1fs", ds.Name, ds.N(), ds.Dim, ds.NQ(), metric, time.Since(t0).Seconds())

	gtProgress := func(int) {}
	if prog != nil {
		prog.Start("ground truth", ds.NQ())
		gtProgress = prog.Set
	}
	prevProcs := runtime.GOMAXPROCS(*threads)
	gt, err := bench.EnsureGroundTruth(ctx, ds, *k, logf, gtProgress)
	runtime.GOMAXPROCS(prevProcs)
	if prog != nil {
		prog.Done()
	}
	if err != nil {
		return err
	}

	var jsonOut *bufio.Writer
	if *jsonPath != "" {
		f, err := os.OpenFile(*jsonPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		jsonOut = bufio.NewWriter(f)
	}
	var points []bench.Point
	err = bench.Run(ctx, ds, gt, bench.Config{
		Indexes: names, Params: p, K: *k, Threads: *threads,
		MinTime: *minTime, MinQueries: *minQ, Build1: *build1,
		Progress: prog, Logf: logf,
	}, func(pt bench.Point) error {
		points = append(points, pt)
		if jsonOut == nil {
			return nil
		}
		b, err := json.Marshal(pt)
		if err != nil {
			return err
		}
		jsonOut.Write(append(b, '\n'))
		// Flush per point so an interrupted sweep keeps what it measured.
		return jsonOut.Flush()
	})
	if len(points) > 0 {
		fmt.Printf("%s: %d×%d, %d queries, %v, k=%d, %d threads, kernels %s, %s %s/%s\n\n",
			ds.Name, ds.N(), ds.Dim, ds.NQ(), metric, *k, *threads, distance.Implementation(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		if werr := bench.WriteTable(os.Stdout, points); werr != nil && err == nil {
			err = werr
		}
		if *plotPath != "" {
			title := fmt.Sprintf("%s (%d×%d, %v), recall@%d", ds.Name, ds.N(), ds.Dim, metric, *k)
			if perr := bench.Plot(*plotPath, title, points); perr != nil && err == nil {
				err = perr
			} else if perr == nil {
				logf("plot written to %s", *plotPath)
			}
		}
	}
	if err != nil {
		return err
	}
	logf("done in %.1fs", time.Since(t0).Seconds())
	return nil
}

// parseNonNegInts parses a comma list of integers ≥ 0 ("" gives nil).
func parseNonNegInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%w: %q is not a non-negative integer", errUsage, f)
		}
		out = append(out, v)
	}
	return out, nil
}
