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
// A -dataset ending in .hdf5 is an ann-benchmarks file (train, test,
// neighbors; its distance attribute is the metric unless -metric is
// given). Any other -dataset than synthetic and fashion-mnist is a path
// prefix X naming X_base.fvecs and X_query.fvecs (or .bvecs), with ground
// truth in X_gt.ivecs; missing ground truth is computed with flat and
// saved there.
// With -annresults DIR every point is also written as an ann-benchmarks
// result file, for its plot.py. The table goes to stdout, notes to stderr, a progress bar to stderr when
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
		dsName    = fs.String("dataset", "synthetic", "synthetic, fashion-mnist, an ann-benchmarks FILE.hdf5, a wink word-embedding FILE.json, or a path prefix X (X_base.fvecs, X_query.fvecs, X_gt.ivecs)")
		metricS   = fs.String("metric", "l2", "distance metric: l2, ip or cosine (default l2, or a .hdf5 file's own)")
		indexS    = fs.String("index", "", "comma-separated index types (default: "+strings.Join(defaultIndexes, ",")+", those available)")
		k         = fs.Int("k", 10, "neighbours per query (recall@k)")
		queries   = fs.Int("queries", 0, "use only the first N queries (0: all)")
		threads   = fs.Int("threads", runtime.NumCPU(), "threads for builds and batched search (single-query QPS always uses one)")
		jsonPath  = fs.String("json", "", "append one JSON object per point to `FILE`")
		annDir    = fs.String("annresults", "", "also write each point as an ann-benchmarks result file under `DIR` (DIR/<dataset>/<k>/nearkit-<index>/<params>.hdf5)")
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
		shapeN    = fs.Int("shape", 0, "report the data set's relative contrast and LID@20 from this many queries (0: not measured)")
	)
	// Every flag a registered index type owns, defined once.
	idxFlags := map[string]*indexFlag{}
	for _, f := range bench.Flags() {
		v := &indexFlag{kind: f.Kind, value: f.Default}
		idxFlags[f.Name] = v
		fs.Var(v, f.Name, fmt.Sprintf("%s [%s]", f.Usage, strings.Join(f.Owners, ", ")))
	}
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
	p := bench.Params{Seed: *seed}
	var setFlags []string
	fs.Visit(func(f *flag.Flag) {
		if v, ok := idxFlags[f.Name]; ok && err == nil {
			setFlags = append(setFlags, f.Name)
			err = p.Set(f.Name, v.value)
		}
	})
	if err != nil {
		return err
	}
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
	for _, n := range names {
		if _, err := bench.Lookup(n); err != nil {
			return err
		}
	}
	if err := bench.CheckFlags(names, setFlags); err != nil {
		return err
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
	metricSet := false
	fs.Visit(func(f *flag.Flag) { metricSet = metricSet || f.Name == "metric" })
	ds, err := dataset.Load(*dsName, dataset.Options{
		Metric:     metric,
		FileMetric: !metricSet,
		Queries:    nq,
		Synthetic:  dataset.SyntheticConfig{N: *synthN, Dim: *synthDim, Seed: *seed},
		CacheDir:   *cacheDir,
	})
	if err != nil {
		return err
	}
	logf("%s: %d×%d base, %d queries, metric %v, loaded in %.1fs", ds.Name, ds.N(), ds.Dim, ds.NQ(), ds.Metric, time.Since(t0).Seconds())
	if *shapeN > 0 {
		sh := dataset.MeasureShape(ds.Base, ds.Queries, ds.Dim, ds.Metric, *shapeN, 20)
		logf("%s: relative contrast %.2f, LID@%d %.1f (%d queries)", ds.Name, sh.RelativeContrast, sh.K, sh.LID, sh.Queries)
	}

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
		// Append, as the flag says: a sweep script calls nearbench once per
		// configuration and collects every run's points in one file.
		f, err := os.OpenFile(*jsonPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
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
		Answers:  *annDir != "",
		Progress: prog, Logf: logf,
	}, func(pt bench.Point) error {
		if *annDir != "" {
			path, err := bench.WriteANNResult(*annDir, pt)
			if err != nil {
				return err
			}
			logf("ann-benchmarks result: %s", path)
			pt.Answers = nil
		}
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
			ds.Name, ds.N(), ds.Dim, ds.NQ(), ds.Metric, *k, *threads, distance.Implementation(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		if werr := bench.WriteTable(os.Stdout, points); werr != nil && err == nil {
			err = werr
		}
		fmt.Printf("\n%s\n\n", bench.Legend)
		if werr := bench.WriteVerdict(os.Stdout, points); werr != nil && err == nil {
			err = werr
		}
		if *plotPath != "" {
			title := fmt.Sprintf("%s (%d×%d, %v), recall@%d", ds.Name, ds.N(), ds.Dim, ds.Metric, *k)
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
	if gt.Path != "" {
		logf("ground truth cache: %s", gt.Path)
	}
	logf("done in %.1fs", time.Since(t0).Seconds())
	return nil
}

// indexFlag is the flag.Value of an index type's flag: the text is kept
// and parsed by bench.Params.Set once the flags are known.
type indexFlag struct {
	kind  bench.FlagKind
	value string
}

func (f *indexFlag) String() string {
	if f == nil {
		return ""
	}
	return f.value
}

func (f *indexFlag) Set(s string) error { f.value = s; return nil }

// IsBoolFlag lets a switch be given as -opq without a value.
func (f *indexFlag) IsBoolFlag() bool { return f.kind == bench.Switch }
