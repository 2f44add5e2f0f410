// Command peers measures nearkit beside hnswlib and FAISS on the same data
// files, ground truth and method, and prints the ratio of single-thread
// QPS at equal recall (interpolated between sweep points):
//
//	go run ./benchmarks/peers                                  # Fashion-MNIST, hnsw M=16 efc=200, 2 rounds
//	go run ./benchmarks/peers -rounds 3 -plot peers.png -json peers.json
//	go run ./benchmarks/peers -dataset glove-25-angular.hdf5 -metric cosine
//
// Each round runs nearbench's engine in this process, then hnswlib (a
// small C++ program of ours, compiled here with -O3 -march=native against
// Debian's header-only libhnswlib-dev), then FAISS (a Python program of
// ours under /usr/bin/python3), rotating the order every round, so that a
// loaded or drifting machine weighs on every library alike. Ratios are
// taken within a round and the median over rounds is reported.
//
// FAISS is a FAISS 1.7.3 built with its AVX2 kernels, when one is installed
// at $NEARKIT_PEERS/build/faiss-avx2-py, NEARKIT_PEERS
// defaulting to $XDG_CACHE_HOME/nearkit-peers or ~/.cache/nearkit-peers —
// with the OpenBLAS unpacked beside it (build/openblas/lib), else Debian's
// python3-faiss, a generic SSE2 build that flatters the ratio (-faiss
// chooses). The data, ground truth and peer binaries go to -work.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nearkit/nearkit/benchmarks/bench"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
)

//go:embed progs/hnswlib_peer.cpp
var hnswlibSource []byte

//go:embed progs/faiss_peer.py
var faissSource []byte

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(1)
	}
}

// options are the parsed flags.
type options struct {
	dataset, metric, indexes, peers, faiss, faissIndex string
	params                                             bench.Params
	m, efc, ef                                         string
	k, rounds, threads, minQ, queries                  int
	minTime                                            time.Duration
	targets                                            []float64
	work, cache, plot, jsonPath                        string
}

func run(ctx context.Context, args []string, stdout *os.File) error {
	fs := flag.NewFlagSet("peers", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.dataset, "dataset", "fashion-mnist", "data set, as nearbench's -dataset (fashion-mnist, synthetic, a path prefix, an ann-benchmarks .hdf5 or a wink .json file)")
	fs.StringVar(&o.metric, "metric", "", "l2, ip or cosine (default: the data set's, else l2)")
	fs.StringVar(&o.indexes, "index", "hnsw", "nearkit index types (nearbench -index)")
	fs.StringVar(&o.peers, "peers", "hnswlib,faiss", "peer libraries to run")
	fs.StringVar(&o.faiss, "faiss", "auto", "FAISS build: auto (AVX2 build when present), avx2, or debian")
	fs.StringVar(&o.faissIndex, "faiss-index", "hnsw", "FAISS index types: hnsw, flat, ivfflat, ivfpq")
	fs.StringVar(&o.m, "M", "16", "HNSW links per node, for every library (comma list)")
	fs.StringVar(&o.efc, "efc", "200", "HNSW construction beam width (comma list)")
	fs.StringVar(&o.ef, "ef", "10,12,15,20,30,40,80,120,200", "HNSW search beam widths to sweep")
	fs.IntVar(&o.k, "k", 10, "neighbours per query (recall@k)")
	fs.IntVar(&o.rounds, "rounds", 2, "alternating rounds; medians over rounds are reported")
	fs.IntVar(&o.threads, "threads", runtime.NumCPU(), "threads for builds (searches are single-threaded)")
	fs.IntVar(&o.minQ, "minqueries", 1000, "least single-thread queries per point")
	fs.IntVar(&o.queries, "queries", 0, "use only the first N queries (0: all)")
	fs.DurationVar(&o.minTime, "mintime", time.Second, "least time per point")
	targets := fs.String("targets", "0.9,0.95,0.99", "recall targets of the ratio table")
	fs.StringVar(&o.work, "work", filepath.Join(dataset.DefaultCacheDir(), "peers"), "directory for exported data and compiled peers")
	fs.StringVar(&o.cache, "cache", "", "ground-truth cache directory (nearbench -cache)")
	fs.StringVar(&o.plot, "plot", "", "write the recall vs QPS chart (medians over rounds) to `FILE`")
	fs.StringVar(&o.jsonPath, "json", "", "write every point of every round, one JSON object per line, to `FILE`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, f := range [][2]string{{"M", o.m}, {"efc", o.efc}, {"ef", o.ef}} {
		if err := o.params.Set(f[0], f[1]); err != nil {
			return err
		}
	}
	for _, s := range strings.Split(*targets, ",") {
		t, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || !(t > 0 && t <= 1) {
			return fmt.Errorf("-targets: %q is not a recall in (0, 1]", s)
		}
		o.targets = append(o.targets, t)
	}
	if o.k < 1 || o.rounds < 1 || o.threads < 1 || o.minQ < 0 || o.queries < 0 || o.minTime < 0 {
		return fmt.Errorf("-k, -rounds, -threads must be positive; -minqueries, -queries, -mintime not negative")
	}
	if o.faiss != "auto" && o.faiss != "avx2" && o.faiss != "debian" {
		return fmt.Errorf("-faiss must be auto, avx2 or debian")
	}
	names := splitList(o.indexes)
	for _, n := range names {
		if _, err := bench.Lookup(n); err != nil {
			return err
		}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "[peers] "+format+"\n", args...) }

	ds, gt, err := loadData(ctx, o, logf)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	files, err := exportData(ds, gt, o.work)
	if err != nil {
		return err
	}
	defer files.remove()

	var runners []runner
	runners = append(runners, runner{"nearkit", func(round int) ([]record, error) { return runNearkit(ctx, ds, gt, o, names, round, logf) }})
	for _, p := range splitList(o.peers) {
		switch p {
		case "hnswlib":
			bin, err := buildHnswlib(ctx, o.work, logf)
			if err != nil {
				return err
			}
			runners = append(runners, runner{"hnswlib", func(round int) ([]record, error) { return runHnswlib(ctx, bin, files, o, round) }})
		case "faiss":
			cmd, err := faissCommand(o)
			if err != nil {
				return err
			}
			logf("FAISS: %s", cmd.library)
			runners = append(runners, runner{"faiss", func(round int) ([]record, error) { return runFaiss(ctx, cmd, files, o, round) }})
		default:
			return fmt.Errorf("-peers: unknown library %q (hnswlib, faiss)", p)
		}
	}

	var recs []record
	for r := range o.rounds {
		for i := range runners {
			rn := runners[(i+r)%len(runners)]
			logf("round %d/%d: %s", r+1, o.rounds, rn.name)
			got, err := rn.run(r + 1)
			if err != nil {
				return fmt.Errorf("round %d: %s: %w", r+1, rn.name, err)
			}
			recs = append(recs, got...)
		}
	}

	cpu := cpuModel()
	fmt.Fprintf(stdout, "%s: %d×%d, %d queries, %v, k=%d; CPU %s, %d threads for builds; %d alternating rounds (medians; ratio = nearkit QPS / peer QPS at equal recall, single thread)\n\n",
		ds.Name, ds.N(), ds.Dim, ds.NQ(), ds.Metric, o.k, cpu, o.threads, o.rounds)
	if err := writeRatios(stdout, compare(recs, o.targets)); err != nil {
		return err
	}
	if o.jsonPath != "" {
		if err := writeJSON(o.jsonPath, recs); err != nil {
			return err
		}
	}
	if o.plot != "" {
		title := fmt.Sprintf("%s (%d×%d, %v), recall@%d, %s, median of %d rounds", ds.Name, ds.N(), ds.Dim, ds.Metric, o.k, cpu, o.rounds)
		if err := bench.Plot(o.plot, title, medianPoints(recs)); err != nil {
			return err
		}
		logf("plot written to %s", o.plot)
	}
	return nil
}

type runner struct {
	name string
	run  func(round int) ([]record, error)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// loadData loads the data set and its ground truth as nearbench does.
func loadData(ctx context.Context, o options, logf func(string, ...any)) (*dataset.Dataset, *bench.GroundTruth, error) {
	opts := dataset.Options{Queries: o.queries, CacheDir: o.cache, FileMetric: o.metric == ""}
	if o.metric != "" {
		m, err := distance.ParseMetric(o.metric)
		if err != nil {
			return nil, nil, err
		}
		opts.Metric = m
	}
	ds, err := dataset.Load(o.dataset, opts)
	if err != nil {
		return nil, nil, err
	}
	logf("%s: %d×%d base, %d queries, %v", ds.Name, ds.N(), ds.Dim, ds.NQ(), ds.Metric)
	gt, err := bench.EnsureGroundTruth(ctx, ds, o.k, logf, nil)
	if err != nil {
		return nil, nil, err
	}
	if err := bench.CheckGroundTruth(ds, gt, o.k); err != nil {
		return nil, nil, err
	}
	return ds, gt, nil
}

// dataFiles are the data set as the peers read it.
type dataFiles struct {
	base, query, gt string
	metric          string // l2 or ip: cosine is exported as ip on normalised vectors
}

func (f dataFiles) remove() {
	for _, p := range []string{f.base, f.query, f.gt} {
		os.Remove(p)
	}
}

// exportData writes the base, queries and ground truth (nearest first,
// base row numbers) as .fvecs/.ivecs under dir. Cosine data are written
// normalised, for the peers' inner-product indexes: same neighbours.
func exportData(ds *dataset.Dataset, gt *bench.GroundTruth, dir string) (dataFiles, error) {
	stem := filepath.Join(dir, fmt.Sprintf("%s-%d", sanitize(ds.Name), os.Getpid()))
	f := dataFiles{base: stem + "_base.fvecs", query: stem + "_query.fvecs", gt: stem + "_gt.ivecs", metric: "l2"}
	base, queries := ds.Base, ds.Queries
	switch ds.Metric {
	case distance.InnerProduct:
		f.metric = "ip"
	case distance.Cosine:
		f.metric = "ip"
		base, queries = normalized(base, ds.Dim), normalized(queries, ds.Dim)
	}
	if err := dataset.SaveFvecs(f.base, base, ds.Dim); err != nil {
		return f, err
	}
	if err := dataset.SaveFvecs(f.query, queries, ds.Dim); err != nil {
		return f, err
	}
	return f, dataset.SaveIvecs(f.gt, gt.IDs[:ds.NQ()*gt.K], gt.K)
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, s)
}

func normalized(x []float32, dim int) []float32 {
	out := make([]float32, len(x))
	for i := 0; i < len(x); i += dim {
		var s float64
		for _, v := range x[i : i+dim] {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := float32(1 / math.Sqrt(s))
		for j, v := range x[i : i+dim] {
			out[i+j] = v * inv
		}
	}
	return out
}

// runNearkit measures the nearkit index types with nearbench's engine.
func runNearkit(ctx context.Context, ds *dataset.Dataset, gt *bench.GroundTruth, o options, names []string, round int, logf func(string, ...any)) ([]record, error) {
	var recs []record
	err := bench.Run(ctx, ds, gt, bench.Config{
		Indexes: names, Params: o.params, K: o.k, Threads: o.threads,
		MinTime: o.minTime, MinQueries: o.minQ, Build1: true, Logf: logf,
	}, func(p bench.Point) error {
		recs = append(recs, record{
			Library: "nearkit", Index: p.Index, BuildParams: p.BuildParams, SearchParams: p.SearchParams,
			Recall: p.Recall, QPS: p.QPS, BuildS: p.BuildS, BuildS1T: p.BuildS1T, MemBytes: p.MemBytes, Round: round,
		})
		return nil
	})
	return recs, err
}

// buildHnswlib compiles hnswlib_peer.cpp into dir once per source
// version and returns the binary's path.
func buildHnswlib(ctx context.Context, dir string, logf func(string, ...any)) (string, error) {
	if _, err := os.Stat("/usr/include/hnswlib/hnswlib.h"); err != nil {
		return "", fmt.Errorf("hnswlib: /usr/include/hnswlib/hnswlib.h missing: install the Debian package libhnswlib-dev (or run with -peers faiss)")
	}
	sum := sha256.Sum256(hnswlibSource)
	bin := filepath.Join(dir, "hnswlib_peer-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	src := bin + ".cpp"
	if err := os.WriteFile(src, hnswlibSource, 0o644); err != nil {
		return "", err
	}
	defer os.Remove(src)
	cxx := os.Getenv("CXX")
	if cxx == "" {
		cxx = "g++"
	}
	logf("compiling hnswlib_peer with %s -O3 -march=native", cxx)
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, cxx, "-O3", "-march=native", "-std=c++17", "-pthread", "-o", tmp, src)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("compiling hnswlib_peer: %w", err)
	}
	return bin, os.Rename(tmp, bin)
}

func runHnswlib(ctx context.Context, bin string, f dataFiles, o options, round int) ([]record, error) {
	var recs []record
	for _, m := range o.params.Ints("M") {
		for _, efc := range o.params.Ints("efc") {
			cmd := exec.CommandContext(ctx, bin, f.base, f.query, f.gt, f.metric, strconv.Itoa(m), strconv.Itoa(efc),
				joinInts(o.params.Ints("ef")), strconv.Itoa(o.k), strconv.Itoa(o.threads),
				strconv.FormatFloat(o.minTime.Seconds(), 'g', -1, 64), strconv.Itoa(o.minQ))
			got, err := runJSON(cmd, round)
			if err != nil {
				return nil, err
			}
			recs = append(recs, got...)
		}
	}
	return recs, nil
}

// faissCmd is how to start faiss_peer.py with the chosen FAISS build.
type faissCmd struct {
	library string
	env     []string
	script  []byte
}

// faissCommand picks the FAISS build: the AVX2 one made by the shared
// faiss_build_avx2.sh (found as its README says) unless -faiss debian.
func faissCommand(o options) (faissCmd, error) {
	peers := os.Getenv("NEARKIT_PEERS")
	if peers == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		peers = filepath.Join(cache, "nearkit-peers")
	}
	pkg := filepath.Join(peers, "build", "faiss-avx2-py")
	_, err := os.Stat(filepath.Join(pkg, "faiss", "_swigfaiss_avx2.so"))
	haveAVX2 := err == nil && cpuHasAVX2()
	env := os.Environ()
	c := faissCmd{library: "faiss", script: faissSource}
	switch {
	case o.faiss == "avx2" && !haveAVX2:
		return c, fmt.Errorf("-faiss avx2: no AVX2 FAISS build in %s (the shared faiss_build_avx2.sh makes it), or this CPU lacks AVX2", pkg)
	case o.faiss != "debian" && haveAVX2:
		c.library = "faiss-avx2"
		env = append(env, "PYTHONPATH="+pkg+prefixEnv("PYTHONPATH", ":"))
		// FAISS's loader picks the AVX2 module from numpy's CPU features.
	}
	if ob := filepath.Join(peers, "build", "openblas", "lib"); fileExists(filepath.Join(ob, "libblas.so.3")) {
		env = append(env, "LD_LIBRARY_PATH="+ob+prefixEnv("LD_LIBRARY_PATH", ":"))
	}
	c.env = env
	if c.library == "faiss" {
		if err := exec.Command("/usr/bin/python3", "-c", "import faiss").Run(); err != nil {
			return c, fmt.Errorf("FAISS: /usr/bin/python3 cannot import faiss: install the Debian package python3-faiss (or run with -peers hnswlib)")
		}
	}
	return c, nil
}

func prefixEnv(name, sep string) string {
	if v := os.Getenv(name); v != "" {
		return sep + v
	}
	return ""
}

func runFaiss(ctx context.Context, c faissCmd, f dataFiles, o options, round int) ([]record, error) {
	script := filepath.Join(filepath.Dir(f.base), "faiss_peer.py")
	if err := os.WriteFile(script, c.script, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, f.base, f.query, f.gt,
		"--metric", f.metric, "--index", o.faissIndex, "--library", c.library,
		"--M", joinInts(o.params.Ints("M")), "--efc", joinInts(o.params.Ints("efc")), "--ef", joinInts(o.params.Ints("ef")),
		"--k", strconv.Itoa(o.k), "--threads", strconv.Itoa(o.threads),
		"--min-time", strconv.FormatFloat(o.minTime.Seconds(), 'g', -1, 64), "--min-queries", strconv.Itoa(o.minQ))
	cmd.Env = c.env
	cmd.Dir = "/" // nothing in the working directory may shadow the faiss package
	return runJSON(cmd, round)
}

// runJSON runs cmd, passing its stderr through, and decodes one record
// per stdout line.
func runJSON(cmd *exec.Cmd, round int) ([]record, error) {
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var recs []record
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s: output line %q: %w", filepath.Base(cmd.Path), sc.Text(), err)
		}
		r.Round = round
		recs = append(recs, r)
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	return recs, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func writeJSON(path string, recs []record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpuModel returns the CPU's model name from /proc/cpuinfo, or GOARCH.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func cpuHasAVX2() bool {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return strings.Contains(" "+v+" ", " avx2 ")
		}
	}
	return false
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
