package hnsw

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
)

// Fashion-MNIST benchmarks of filtered and quantized search. They need the
// Debian package dataset-fashion-mnist and are skipped without it. The
// index (M=16, efConstruction=200, seed 1) is built once and cached in
// dataset.DefaultCacheDir(); the first run takes a minute or two.
//
//	go test -run xxx -bench 'Fashion' -benchtime 2000x ./hnsw
//
// Environment: NEARKIT_EF (comma-separated ef list, default "16"),
// NEARKIT_NQ (queries used, default 1000).

type fashionFixture struct {
	ds  *dataset.Dataset
	x   *Index
	qx  *Index // the same graph with SQ8 codes
	mx  *Index // qx saved and memory-mapped with Open
	gt  [][]uint64
	nq  int
	err error
}

var (
	fashionOnce sync.Once
	fashion     fashionFixture
)

func envInts(name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return def
	}
	return out
}

func loadFashion(b *testing.B) *fashionFixture {
	fashionOnce.Do(func() {
		f := &fashion
		f.nq = envInts("NEARKIT_NQ", []int{1000})[0]
		f.ds, f.err = dataset.Load("fashion-mnist", dataset.Options{Metric: distance.L2, Queries: f.nq})
		if f.err != nil {
			return
		}
		f.nq = f.ds.NQ()
		path := filepath.Join(dataset.DefaultCacheDir(), "hnsw-fashion-mnist-M16-efc200-seed1.nkhnsw")
		x, err := Load(path)
		if err != nil || x.Len() != f.ds.N() {
			start := time.Now()
			x, _ = New(Config{Dim: f.ds.Dim, M: 16, EfConstruction: 200, Seed: 1, Capacity: f.ds.N()})
			ids := make([]uint64, f.ds.N())
			for i := range ids {
				ids[i] = uint64(i)
			}
			if f.err = x.AddBatch(b.Context(), ids, f.ds.Base); f.err != nil {
				return
			}
			fmt.Fprintf(os.Stderr, "built Fashion-MNIST index in %v\n", time.Since(start))
			_ = os.MkdirAll(filepath.Dir(path), 0o755)
			_ = x.Save(path)
		}
		f.x = x
		f.qx, f.err = quantizeCopy(b, path, x, f.ds.Base)
		if f.err != nil {
			return
		}
		mpath := filepath.Join(os.TempDir(), fmt.Sprintf("nearkit-fashion-sq8-%d.nkhnsw", os.Getpid()))
		if f.err = f.qx.Save(mpath); f.err != nil {
			return
		}
		f.mx, f.err = Open(mpath, OpenOptions{})
		// The mapping stays valid after the name is gone.
		_ = os.Remove(mpath)
		if f.err != nil {
			return
		}
		// Unfiltered ground truth: the exact strategy with an allow-all
		// filter is a float32 brute-force scan.
		all := nearkit.NewAllowList(uint64(f.ds.N()))
		for i := range f.ds.N() {
			all.Set(uint64(i))
		}
		f.gt = filteredTruth(x, f.ds, f.nq, all)
	})
	if fashion.err != nil || fashion.ds == nil {
		b.Skipf("Fashion-MNIST not available: %v", fashion.err)
	}
	return &fashion
}

// quantizeCopy loads a second copy of the float index from path (or uses x
// when it cannot be saved) and gives it SQ8 codes: the graph is the same,
// as it would be if built with Quantization: SQ8, since construction reads
// only the float32 vectors.
func quantizeCopy(b *testing.B, path string, x *Index, base []float32) (*Index, error) {
	qx, err := Load(path)
	if err != nil {
		return nil, err
	}
	cfg := qx.Config()
	cfg.Quantization = SQ8
	qx.quant = newQuantState(cfg)
	if err := qx.Train(b.Context(), base); err != nil {
		return nil, err
	}
	d := qx.dir.Load()
	for _, c := range d.chunks {
		c.codes = make([]uint8, len(c.labels)*qx.dim)
	}
	for s := range qx.nslots.Load() {
		c := d.chunks[s>>qx.shift]
		qx.encodeSlot(c, s&qx.mask, qx.vecOf(d, s))
	}
	return qx, nil
}

// filteredTruth returns the exact 10 nearest allowed IDs of each query.
func filteredTruth(x *Index, ds *dataset.Dataset, nq int, f nearkit.Filter) [][]uint64 {
	old := x.filterPath
	x.filterPath = filterExact
	defer func() { x.filterPath = old }()
	out := make([][]uint64, nq)
	var wg sync.WaitGroup
	var next int64
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			var res []nearkit.Result
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if int(i) >= nq {
					return
				}
				res, _ = x.Search(res[:0], ds.Queries[int(i)*ds.Dim:int(i+1)*ds.Dim], 10, nearkit.SearchOptions{Filter: f})
				ids := make([]uint64, len(res))
				for j, r := range res {
					ids[j] = r.ID
				}
				out[i] = ids
			}
		})
	}
	wg.Wait()
	return out
}

func recallOf(x *Index, ds *dataset.Dataset, gt [][]uint64, opts nearkit.SearchOptions) (recall float64, short int) {
	hits, total := 0, 0
	var res []nearkit.Result
	for i, want := range gt {
		res, _ = x.Search(res[:0], ds.Queries[i*ds.Dim:(i+1)*ds.Dim], 10, opts)
		if len(res) < len(want) {
			short++
		}
		for _, r := range res {
			if slices.Contains(want, r.ID) {
				hits++
			}
		}
		total += len(want)
	}
	return float64(hits) / float64(max(total, 1)), short
}

// fashionFilter builds an allow-list of about sel·n IDs: "random" draws
// them uniformly, "clustered" takes the sel·n base vectors nearest to a
// random base vector, so the allowed set is one region of the space and
// most queries' nearest allowed vectors are far from their nearest ones.
func fashionFilter(ds *dataset.Dataset, kind string, sel float64, seed uint64) *nearkit.AllowList {
	n := ds.N()
	want := max(1, int(sel*float64(n)))
	rng := rand.New(rand.NewPCG(seed, 7))
	al := nearkit.NewAllowList(uint64(n))
	if kind == "random" {
		for _, i := range rng.Perm(n)[:want] {
			al.Set(uint64(i))
		}
		return al
	}
	c := ds.Base[rng.IntN(n)*ds.Dim:][:ds.Dim]
	type pd struct {
		d float32
		i int
	}
	all := make([]pd, n)
	for i := range n {
		all[i] = pd{distance.SquaredL2(c, ds.Base[i*ds.Dim:(i+1)*ds.Dim]), i}
	}
	slices.SortFunc(all, func(a, b pd) int {
		if a.d < b.d {
			return -1
		}
		if a.d > b.d {
			return 1
		}
		return 0
	})
	for _, p := range all[:want] {
		al.Set(uint64(p.i))
	}
	return al
}

func runQueries(b *testing.B, x *Index, ds *dataset.Dataset, nq int, opts nearkit.SearchOptions) {
	dst := make([]nearkit.Result, 0, 10)
	var st nearkit.SearchStats
	i := 0
	for b.Loop() {
		q := ds.Queries[(i%nq)*ds.Dim : (i%nq+1)*ds.Dim]
		dst, _ = x.SearchWithStats(dst[:0], q, 10, opts, &st)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "qps")
	b.ReportMetric(float64(st.Distances)/float64(i), "distances/op")
}

// BenchmarkFashionUnfiltered: recall and QPS of plain and SQ8 search, to
// find the ef that gives recall@10 ≥ 0.95.
func BenchmarkFashionUnfiltered(b *testing.B) {
	f := loadFashion(b)
	for _, ef := range envInts("NEARKIT_EF", []int{10, 12, 16, 20, 30}) {
		for _, st := range []struct {
			name string
			x    *Index
		}{{"float32", f.x}, {"sq8", f.qx}, {"sq8-mmap", f.mx}} {
			b.Run(fmt.Sprintf("storage=%s/ef=%d", st.name, ef), func(b *testing.B) {
				opts := nearkit.SearchOptions{Ef: ef}
				r, _ := recallOf(st.x, f.ds, f.gt, opts)
				runQueries(b, st.x, f.ds, f.nq, opts)
				b.ReportMetric(r, "recall")
				ms := st.x.MemoryStats()
				b.ReportMetric(float64(st.x.MemoryUsage()), "mem-bytes")
				// What a search reads: for sq8, graph and codes (the float32
				// vectors only for re-ranking ef candidates).
				b.ReportMetric(float64(ms.Graph+ms.Codes), "graph+codes-bytes")
				// For the mapped index: what lives on the Go heap.
				b.ReportMetric(float64(st.x.MemoryUsage()-st.x.MappedBytes()), "heap-bytes")
			})
		}
	}
}

// BenchmarkFashionFilter: recall@10 and QPS of filtered search per
// selectivity, filter kind and strategy (auto is what Search chooses;
// exact and graph force one). form=func hides the allow-list behind a
// FilterFunc, so the selectivity is estimated by sampling.
func BenchmarkFashionFilter(b *testing.B) {
	f := loadFashion(b)
	efs := envInts("NEARKIT_EF", []int{16})
	for _, kind := range []string{"random", "clustered"} {
		for _, sel := range []float64{0.5, 0.1, 0.01, 0.001} {
			al := fashionFilter(f.ds, kind, sel, uint64(sel*1e6))
			gt := filteredTruth(f.x, f.ds, f.nq, al)
			type variant struct {
				path, form string
				filter     nearkit.Filter
			}
			vs := []variant{
				{"auto", "bitset", al},
				{"auto", "func", nearkit.FilterFunc(al.Allowed)},
				{"exact", "bitset", al},
				{"graph", "bitset", al},
			}
			for _, v := range vs {
				for _, ef := range efs {
					for _, st := range []struct {
						name string
						x    *Index
					}{{"float32", f.x}, {"sq8", f.qx}} {
						if st.name == "sq8" && v.path != "auto" {
							continue
						}
						b.Run(fmt.Sprintf("filter=%s/sel=%g/path=%s/form=%s/storage=%s/ef=%d", kind, sel*100, v.path, v.form, st.name, ef), func(b *testing.B) {
							st.x.filterPath = map[string]int{"auto": filterAuto, "exact": filterExact, "graph": filterGraph}[v.path]
							defer func() { st.x.filterPath = filterAuto }()
							opts := nearkit.SearchOptions{Ef: ef, Filter: v.filter}
							r, short := recallOf(st.x, f.ds, gt, opts)
							runQueries(b, st.x, f.ds, f.nq, opts)
							b.ReportMetric(r, "recall")
							b.ReportMetric(float64(short), "short")
						})
					}
				}
			}
		}
	}
}
