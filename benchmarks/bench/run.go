// Package bench is the measuring engine of nearbench: it builds each index
// configuration on a data set, sweeps its search parameters and measures
// recall@k, single-thread and batched throughput, latency percentiles,
// build time, memory and distance computations, the way ann-benchmarks
// does (single-thread QPS is one query at a time on one goroutine).
//
// Index types are registered Builders; the command-line front end is
// benchmarks/cmd/nearbench.
package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
)

// Config controls a run.
type Config struct {
	// Indexes are the index type names to run, in order.
	Indexes []string
	// Params are the build and search parameters.
	Params Params
	// K is the number of neighbours asked for (recall@K); default 10.
	K int
	// Threads is the parallelism of builds and batched search (GOMAXPROCS
	// during them); default runtime.NumCPU().
	Threads int
	// MinTime is the least time spent on each single-thread and each
	// batched measurement: the query set is repeated until it has passed
	// (always at least one full pass); default 1 s.
	MinTime time.Duration
	// MinQueries is the least number of single-thread queries measured,
	// for tiny query sets; default 1000.
	MinQueries int
	// Build1 also times a single-threaded build of every configuration
	// (an extra build, discarded).
	Build1 bool
	// Answers keeps every query's results and time in Point.Answers, for
	// WriteANNResult.
	Answers bool
	// Progress, when non-nil, is told about long phases.
	Progress Progress
	// Logf, when non-nil, receives one line per finished point and notes.
	Logf func(format string, args ...any)
}

// Progress is told about the phases of a run, for a progress bar.
// Implementations must be safe for use from one goroutine at a time.
type Progress interface {
	// Start begins a phase of total steps.
	Start(label string, total int)
	// Set reports that done steps of the current phase are finished.
	Set(done int)
	// Done ends the phase.
	Done()
}

type nopProgress struct{}

func (nopProgress) Start(string, int) {}
func (nopProgress) Set(int)           {}
func (nopProgress) Done()             {}

// Point is one measured (index configuration, search setting) pair; its
// JSON form is one line of nearbench -json output.
type Point struct {
	Dataset      string         `json:"dataset"`
	Index        string         `json:"index"`
	BuildParams  map[string]any `json:"build_params"`
	SearchParams map[string]any `json:"search_params"`
	// Recall is recall@K over all queries, from the single-thread pass.
	Recall float64 `json:"recall"`
	// QPS is single-thread queries per second, one query at a time.
	QPS float64 `json:"qps"`
	// QPSBatch is queries per second of SearchBatch on Threads threads.
	QPSBatch float64 `json:"qps_batch"`
	// Latency percentiles of the single-thread queries, in microseconds.
	P50us float64 `json:"p50_us"`
	P95us float64 `json:"p95_us"`
	P99us float64 `json:"p99_us"`
	// BuildS is the build time on Threads threads; BuildS1T the
	// single-threaded one (only with Config.Build1).
	BuildS   float64 `json:"build_s"`
	BuildS1T float64 `json:"build_s_1t,omitempty"`
	// MemBytes is the index's own accounting (MemoryUsage); HeapBytes the
	// growth of the Go heap across the build, after garbage collection.
	MemBytes  int64 `json:"mem_bytes"`
	HeapBytes int64 `json:"heap_bytes"`
	// DistComps is the mean number of distance computations per query
	// over the warm-up queries (the first min(NQ, 200)), when the index
	// counts them (nearkit.StatsSearcher).
	DistComps float64 `json:"dist_comps,omitempty"`
	// RecallBatch is set when SearchBatch's recall differs from Search's.
	RecallBatch *float64 `json:"recall_batch,omitempty"`

	K       int    `json:"k"`
	Metric  string `json:"metric"`
	N       int    `json:"n"`
	NQ      int    `json:"nq"`
	Dim     int    `json:"dim"`
	Threads int    `json:"threads"`
	// SingleQueries is how many single-thread queries the QPS and
	// latencies are measured over (whole passes over the query set).
	SingleQueries int `json:"single_queries"`
	// Kernels names the distance kernel implementation in use.
	Kernels string `json:"kernels"`
	// Answers holds the single-thread results, with Config.Answers.
	Answers *Answers `json:"-"`
}

// Answers are one point's single-thread results: K IDs and distances per
// query (ID -1 and distance +Inf pad a short result list), and each
// query's fastest time over the measured passes.
type Answers struct {
	IDs       []int64
	Distances []float32
	Seconds   []float64
}

func (c Config) withDefaults() Config {
	if c.K == 0 {
		c.K = 10
	}
	if c.Threads == 0 {
		c.Threads = runtime.NumCPU()
	}
	if c.MinTime == 0 {
		c.MinTime = time.Second
	}
	if c.MinQueries == 0 {
		c.MinQueries = 1000
	}
	if c.Progress == nil {
		c.Progress = nopProgress{}
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// Run measures every configuration of cfg.Indexes on ds against gt and
// calls emit with each point as soon as it is measured. It stops at the
// first error (including one from emit) or when ctx is cancelled.
func Run(ctx context.Context, ds *dataset.Dataset, gt *GroundTruth, cfg Config, emit func(Point) error) error {
	cfg = cfg.withDefaults()
	if err := check.K(cfg.K); err != nil {
		return err
	}
	if cfg.Threads < 0 || cfg.MinTime < 0 || cfg.MinQueries < 0 {
		return fmt.Errorf("%w: threads=%d mintime=%v minqueries=%d", nearkit.ErrInvalidConfig, cfg.Threads, cfg.MinTime, cfg.MinQueries)
	}
	if err := CheckGroundTruth(ds, gt, cfg.K); err != nil {
		return fmt.Errorf("bench: ground truth: %w", err)
	}
	type job struct {
		name string
		bc   BuildConfig
	}
	var jobs []job
	for _, name := range cfg.Indexes {
		b, err := Lookup(name)
		if err != nil {
			return err
		}
		bcs, err := b.Configs(cfg.Params)
		if err != nil {
			return fmt.Errorf("bench: %s: %w", name, err)
		}
		for _, bc := range bcs {
			jobs = append(jobs, job{name, bc})
		}
	}
	for _, j := range jobs {
		if err := runConfig(ctx, ds, gt, cfg, j.name, j.bc, emit); err != nil {
			return fmt.Errorf("bench: %s %s: %w", j.name, FormatParams(j.bc.Params), err)
		}
	}
	return nil
}

// withProcs runs fn with GOMAXPROCS set to n, restoring it afterwards.
func withProcs(n int, fn func() error) error {
	old := runtime.GOMAXPROCS(n)
	defer runtime.GOMAXPROCS(old)
	return fn()
}

// optimizer is an index with a post-build step (hnsw: graph reordering).
type optimizer interface {
	Optimize(ctx context.Context) error
}

// build adds the base set under IDs 0..n-1 in chunks (so ctx and progress
// are served during long builds; each chunk is still one parallel
// AddBatch) and returns the index and the elapsed time.
func build(ctx context.Context, ds *dataset.Dataset, bc BuildConfig, threads int, prog Progress, label string) (nearkit.Index, time.Duration, error) {
	var idx nearkit.Index
	var el time.Duration
	err := withProcs(threads, func() error {
		n, d := ds.N(), ds.Dim
		ids := seqIDs(n)
		chunk := max(1024, n/64)
		prog.Start(label, n)
		defer prog.Done()
		start := time.Now()
		var err error
		if idx, err = bc.New(d, ds.Metric, n); err != nil {
			return err
		}
		if bc.Prepare != nil {
			if err := bc.Prepare(ctx, idx, ds.Base, prog); err != nil {
				return err
			}
		}
		for lo := 0; lo < n; lo += chunk {
			hi := min(lo+chunk, n)
			if err := idx.AddBatch(ctx, ids[lo:hi], ds.Base[lo*d:hi*d]); err != nil {
				return err
			}
			prog.Set(hi)
		}
		// What a user does after a bulk load, so it counts as build time.
		if o, ok := idx.(optimizer); ok {
			if err := o.Optimize(ctx); err != nil {
				return err
			}
		}
		el = time.Since(start)
		return nil
	})
	return idx, el, err
}

func heapAlloc() int64 {
	// Twice: sync.Pool contents survive one collection in the victim
	// cache, and a discarded index's pooled buffers would count.
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func runConfig(ctx context.Context, ds *dataset.Dataset, gt *GroundTruth, cfg Config, name string, bc BuildConfig, emit func(Point) error) error {
	bp := FormatParams(bc.Params)
	var build1 time.Duration
	if cfg.Build1 {
		idx, el, err := build(ctx, ds, bc, 1, cfg.Progress, fmt.Sprintf("build %s %s (1 thread)", name, bp))
		if err != nil {
			return err
		}
		runtime.KeepAlive(idx)
		build1 = el
	}
	h0 := heapAlloc()
	idx, buildTime, err := build(ctx, ds, bc, cfg.Threads, cfg.Progress, fmt.Sprintf("build %s %s", name, bp))
	if err != nil {
		return err
	}
	heap := heapAlloc() - h0
	if idx.Len() != ds.N() {
		return fmt.Errorf("index holds %d vectors after adding %d", idx.Len(), ds.N())
	}
	cfg.Logf("%s %s: built in %.2fs (%d threads), %.1f MB", name, bp, buildTime.Seconds(), cfg.Threads, float64(idx.MemoryUsage())/(1<<20))

	for i, sp := range bc.Sweep {
		p := Point{
			Dataset: ds.Name, Index: name, BuildParams: bc.Params, SearchParams: sp.Params,
			BuildS: buildTime.Seconds(), BuildS1T: build1.Seconds(),
			MemBytes: idx.MemoryUsage(), HeapBytes: heap,
			K: cfg.K, Metric: ds.Metric.String(), N: ds.N(), NQ: ds.NQ(), Dim: ds.Dim,
			Threads: cfg.Threads, Kernels: distance.Implementation(),
		}
		label := fmt.Sprintf("%s %s %s [%d/%d]", name, bp, FormatParams(sp.Params), i+1, len(bc.Sweep))
		if err := measure(ctx, ds, gt, cfg, idx, sp.Opts, label, &p); err != nil {
			return fmt.Errorf("%s: %w", FormatParams(sp.Params), err)
		}
		cfg.Logf("%s: recall %.4f, %.0f QPS, %.0f QPS batched, p50 %.0fµs", label, p.Recall, p.QPS, p.QPSBatch, p.P50us)
		if err := emit(p); err != nil {
			return err
		}
	}
	runtime.KeepAlive(idx)
	return nil
}

// measure fills the search measurements of p for one search setting.
func measure(ctx context.Context, ds *dataset.Dataset, gt *GroundTruth, cfg Config, idx nearkit.Index, opts nearkit.SearchOptions, label string, p *Point) error {
	d, nq, k := ds.Dim, ds.NQ(), cfg.K
	query := func(i int) []float32 { return ds.Queries[i*d : (i+1)*d] }
	res := make([]nearkit.Result, 0, k)
	var err error

	// Warm-up on a prefix of the queries (caches, pools, page faults),
	// counting distance computations when the index can.
	warm := min(nq, 200)
	if ss, ok := idx.(nearkit.StatsSearcher); ok {
		var st nearkit.SearchStats
		for i := range warm {
			if res, err = ss.SearchWithStats(res[:0], query(i), k, opts, &st); err != nil {
				return err
			}
		}
		p.DistComps = float64(st.Distances) / float64(warm)
	} else {
		for i := range warm {
			if res, err = idx.Search(res[:0], query(i), k, opts); err != nil {
				return err
			}
		}
	}

	// Single thread, one query at a time: whole passes over the query set
	// until both MinTime and MinQueries are reached. Recall comes from the
	// first pass.
	found := make([][]uint64, nq)
	flatIDs := make([]uint64, nq*k)
	var lat []time.Duration
	var ans *Answers
	if cfg.Answers {
		ans = &Answers{IDs: make([]int64, nq*k), Distances: make([]float32, nq*k), Seconds: make([]float64, nq)}
		p.Answers = ans
	}
	cfg.Progress.Start(label+" single", nq)
	start := time.Now()
	for pass := 0; ; pass++ {
		if err := ctx.Err(); err != nil {
			cfg.Progress.Done()
			return err
		}
		for i := range nq {
			if i%64 == 63 && ctx.Err() != nil {
				cfg.Progress.Done()
				return ctx.Err()
			}
			t0 := time.Now()
			res, err = idx.Search(res[:0], query(i), k, opts)
			lat = append(lat, time.Since(t0))
			if err != nil {
				cfg.Progress.Done()
				return err
			}
			if pass == 0 && ans != nil {
				for j := range k {
					id, dist := int64(-1), float32(math.Inf(1))
					if j < len(res) {
						id, dist = int64(res[j].ID), res[j].Distance
					}
					ans.IDs[i*k+j], ans.Distances[i*k+j] = id, dist
				}
			}
			if pass == 0 {
				row := flatIDs[i*k : i*k : (i+1)*k]
				for _, r := range res[:min(len(res), k)] {
					row = append(row, r.ID)
				}
				found[i] = row
				if i%64 == 63 {
					cfg.Progress.Set(i + 1)
				}
			}
		}
		if time.Since(start) >= cfg.MinTime && len(lat) >= cfg.MinQueries {
			break
		}
	}
	single := time.Since(start)
	cfg.Progress.Done()
	p.SingleQueries = len(lat)
	p.QPS = float64(len(lat)) / single.Seconds()
	p.Recall = Recall(found, gt, k)
	if ans != nil {
		for i := range ans.Seconds {
			best := lat[i]
			for j := i + nq; j < len(lat); j += nq {
				best = min(best, lat[j])
			}
			ans.Seconds[i] = best.Seconds()
		}
	}
	slices.Sort(lat)
	p.P50us = percentile(lat, 0.50)
	p.P95us = percentile(lat, 0.95)
	p.P99us = percentile(lat, 0.99)

	// Batched: SearchBatch over the whole query set on Threads threads,
	// repeated until MinTime has passed.
	cfg.Progress.Start(label+" batch", 0)
	defer cfg.Progress.Done()
	return withProcs(cfg.Threads, func() error {
		done := 0
		start := time.Now()
		for pass := 0; ; pass++ {
			out, err := idx.SearchBatch(ctx, ds.Queries, k, opts)
			if err != nil {
				return err
			}
			if len(out) != nq {
				return fmt.Errorf("SearchBatch returned %d result lists for %d queries", len(out), nq)
			}
			done += nq
			if pass == 0 {
				for i, rs := range out {
					found[i] = found[i][:0]
					for _, r := range rs[:min(len(rs), k)] {
						found[i] = append(found[i], r.ID)
					}
				}
				if rb := Recall(found, gt, k); math.Abs(rb-p.Recall) > 1e-9 {
					p.RecallBatch = &rb
				}
			}
			if time.Since(start) >= cfg.MinTime {
				break
			}
		}
		p.QPSBatch = float64(done) / time.Since(start).Seconds()
		return nil
	})
}

// percentile returns the q-quantile of sorted durations in microseconds
// (nearest rank).
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Microsecond)
}
