package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/benchmarks/dataset/hdf5"
	"github.com/nearkit/nearkit/distance"
)

func TestRecallHandMade(t *testing.T) {
	gt := &GroundTruth{K: 4, IDs: []int32{
		1, 2, 3, 4,
		5, 6, 7, 8,
	}}
	cases := []struct {
		name  string
		found [][]uint64
		k     int
		want  float64
	}{
		{"perfect", [][]uint64{{1, 2, 3, 4}, {5, 6, 7, 8}}, 4, 1},
		{"order does not matter", [][]uint64{{4, 3, 2, 1}, {8, 7, 6, 5}}, 4, 1},
		{"half", [][]uint64{{1, 2, 9, 9}, {0, 0, 7, 8}}, 4, 0.5},
		{"nothing", [][]uint64{{10, 11, 12, 13}, {}}, 4, 0},
		{"short answers are misses", [][]uint64{{1}, {5, 6}}, 4, 3.0 / 8},
		{"duplicates count once", [][]uint64{{1, 1, 1, 1}, {5, 5, 6, 6}}, 4, 3.0 / 8},
		// recall@2 against the true top 2 only; results beyond k ignored.
		{"k below depth", [][]uint64{{2, 3, 1}, {5, 9, 6}}, 2, 2.0 / 4},
		{"rank 3 of truth is not in top 2", [][]uint64{{3, 4}, {7, 8}}, 2, 0},
	}
	for _, c := range cases {
		if got := Recall(c.found, gt, c.k); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: recall %v, want %v", c.name, got, c.want)
		}
	}
}

func tinyDataset(t testing.TB, n, nq, dim int, m distance.Metric) *dataset.Dataset {
	ds, err := dataset.Load("synthetic", dataset.Options{
		Metric: m, CacheDir: t.TempDir(),
		Synthetic: dataset.SyntheticConfig{N: n, Queries: nq, Dim: dim, Seed: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// bruteForce is an independent float64 top-k with ties by row number.
func bruteForce(ds *dataset.Dataset, q, k int) []int32 {
	d := ds.Dim
	type c struct {
		d  float64
		id int32
	}
	cs := make([]c, ds.N())
	for i := range cs {
		cs[i] = c{exactDistance(ds.Metric, ds.Queries[q*d:(q+1)*d], ds.Base[i*d:(i+1)*d]), int32(i)}
	}
	sort.Slice(cs, func(a, b int) bool { return cs[a].d < cs[b].d || cs[a].d == cs[b].d && cs[a].id < cs[b].id })
	out := make([]int32, k)
	for i := range out {
		out[i] = cs[i].id
	}
	return out
}

func TestComputeGroundTruth(t *testing.T) {
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		ds := tinyDataset(t, 500, 12, 16, m)
		var calls []int
		gt, err := ComputeGroundTruth(context.Background(), ds.Base, ds.Queries, ds.Dim, m, 20, func(d int) { calls = append(calls, d) })
		if err != nil {
			t.Fatal(err)
		}
		if gt.K != 20 || gt.NQ() != 12 || len(calls) == 0 || calls[len(calls)-1] != 12 {
			t.Fatalf("%v: K=%d NQ=%d progress %v", m, gt.K, gt.NQ(), calls)
		}
		for q := range 12 {
			// float32 kernels may swap near-ties relative to float64, so
			// compare the sets of the top 10 inside a top-20 margin.
			want := bruteForce(ds, q, 20)
			for _, id := range gt.Row(q)[:10] {
				if !slices.Contains(want, id) {
					t.Fatalf("%v query %d: %d not in the exact top 20 %v", m, q, id, want)
				}
			}
			if gt.Row(q)[0] != want[0] {
				t.Errorf("%v query %d: nearest %d, want %d", m, q, gt.Row(q)[0], want[0])
			}
		}
		if err := CheckGroundTruth(ds, gt, 10); err != nil {
			t.Errorf("%v: own ground truth rejected: %v", m, err)
		}
	}
	// More neighbours than base vectors: all of them.
	ds := tinyDataset(t, 30, 2, 4, distance.L2)
	gt, err := ComputeGroundTruth(context.Background(), ds.Base, ds.Queries, 4, distance.L2, 100, nil)
	if err != nil || gt.K != 30 {
		t.Fatalf("K=%d %v", gt.K, err)
	}
}

func TestCheckGroundTruthRejects(t *testing.T) {
	ds := tinyDataset(t, 400, 9, 8, distance.L2)
	gt, err := ComputeGroundTruth(context.Background(), ds.Base, ds.Queries, ds.Dim, distance.L2, 20, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string, g *GroundTruth, k int) {
		t.Helper()
		if err := CheckGroundTruth(ds, g, k); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	bad("too shallow", gt, 21)
	bad("too few queries", &GroundTruth{IDs: gt.IDs[:8*20], K: 20}, 10)
	out := slices.Clone(gt.IDs)
	out[5] = 400
	bad("row out of range", &GroundTruth{IDs: out, K: 20}, 10)
	swapped := slices.Clone(gt.IDs)
	copy(swapped[:20], gt.IDs[20:40]) // query 0 gets query 1's answer
	bad("another query's answer", &GroundTruth{IDs: swapped, K: 20}, 10)
	ip, _ := ComputeGroundTruth(context.Background(), ds.Base, ds.Queries, ds.Dim, distance.InnerProduct, 20, nil)
	bad("another metric", ip, 10)
}

func TestEnsureGroundTruthCache(t *testing.T) {
	ds := tinyDataset(t, 300, 10, 8, distance.L2)
	var log []string
	logf := func(f string, a ...any) { log = append(log, f) }
	ctx := context.Background()
	gt1, err := EnsureGroundTruth(ctx, ds, 10, logf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ds.GTSave); err != nil {
		t.Fatalf("not cached: %v (log %q)", err, log)
	}
	if gt1.K != GTDepth {
		t.Errorf("depth %d", gt1.K)
	}
	// Second run: read from the cache, identical.
	log = nil
	gt2, err := EnsureGroundTruth(ctx, ds, 10, logf, nil)
	if err != nil || !slices.Equal(gt1.IDs, gt2.IDs) {
		t.Fatalf("reuse: %v", err)
	}
	if len(log) != 1 || !strings.HasPrefix(log[0], "ground truth: %s") {
		t.Errorf("second run did not reuse the cache: %q", log)
	}
	// Fewer queries reuse the longer cache.
	short := *ds
	short.Queries = ds.Queries[:3*ds.Dim]
	log = nil
	if gt3, err := EnsureGroundTruth(ctx, &short, 10, logf, nil); err != nil || gt3.NQ() != 3 || !strings.HasPrefix(log[0], "ground truth: %s") {
		t.Errorf("shorter run: %v %q", err, log)
	}
	// A stale cache (for other data) is detected and replaced.
	stale := tinyDataset(t, 300, 10, 8, distance.L2)
	stale.Base = slices.Clone(stale.Base)
	for i := range stale.Base {
		stale.Base[i] = -stale.Base[i] * 3
	}
	stale.GTPaths, stale.GTSave = ds.GTPaths, ds.GTSave
	log = nil
	gt4, err := EnsureGroundTruth(ctx, stale, 10, logf, nil)
	if err != nil || !strings.HasPrefix(log[0], "ignoring ground truth") {
		t.Fatalf("stale cache: %v %q", err, log)
	}
	if err := CheckGroundTruth(stale, gt4, 10); err != nil {
		t.Error(err)
	}
}

func quickConfig(idx ...string) Config {
	return Config{Indexes: idx, K: 10, Threads: 2, MinTime: time.Millisecond, MinQueries: 1}
}

func TestRunFlatEndToEnd(t *testing.T) {
	for _, m := range []distance.Metric{distance.L2, distance.Cosine} {
		ds := tinyDataset(t, 1000, 50, 24, m)
		gt, err := EnsureGroundTruth(context.Background(), ds, 10, func(string, ...any) {}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pts []Point
		cfg := quickConfig("flat")
		cfg.Build1 = true
		err = Run(context.Background(), ds, gt, cfg, func(p Point) error { pts = append(pts, p); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 1 {
			t.Fatalf("%d points", len(pts))
		}
		p := pts[0]
		if p.Recall != 1 || p.RecallBatch != nil {
			t.Errorf("%v: flat recall %v (batch %v), want exactly 1", m, p.Recall, p.RecallBatch)
		}
		if p.QPS <= 0 || p.QPSBatch <= 0 || p.P50us <= 0 || p.P99us < p.P95us || p.P95us < p.P50us {
			t.Errorf("throughput/latency %+v", p)
		}
		if p.BuildS <= 0 || p.BuildS1T <= 0 || p.MemBytes < int64(1000*24*4) || p.HeapBytes <= 0 {
			t.Errorf("build/memory %+v", p)
		}
		if p.DistComps != 1000 || p.SingleQueries < 50 || p.N != 1000 || p.NQ != 50 || p.Metric != m.String() {
			t.Errorf("counts %+v", p)
		}
		b, _ := json.Marshal(p)
		var obj map[string]any
		json.Unmarshal(b, &obj)
		for _, f := range []string{"dataset", "index", "build_params", "search_params", "recall", "qps", "qps_batch", "p50_us", "p99_us", "build_s", "mem_bytes"} {
			if _, ok := obj[f]; !ok {
				t.Errorf("JSON lacks %q: %s", f, b)
			}
		}
	}
}

// partial is an index that answers only the first half of k correctly,
// to check that recall is computed from what the index returns.
type partial struct {
	nearkit.Index
}

func (p partial) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	n := len(dst)
	dst, err := p.Index.Search(dst, q, k, opts)
	if len(dst) > n+k/2 {
		dst = dst[:n+k/2]
	}
	return dst, err
}

func TestRunMeasuresWhatIndexReturns(t *testing.T) {
	Register(&Builder{Name: "test-half", Configs: func(p Params) ([]BuildConfig, error) {
		bcs, _ := registry["flat"].Configs(p)
		inner := bcs[0].New
		bcs[0].New = func(dim int, m distance.Metric, n int) (nearkit.Index, error) {
			x, err := inner(dim, m, n)
			return partial{x}, err
		}
		return bcs, nil
	}})
	defer delete(registry, "test-half")
	ds := tinyDataset(t, 500, 20, 8, distance.L2)
	gt, _ := EnsureGroundTruth(context.Background(), ds, 10, func(string, ...any) {}, nil)
	var p Point
	if err := Run(context.Background(), ds, gt, quickConfig("test-half"), func(pt Point) error { p = pt; return nil }); err != nil {
		t.Fatal(err)
	}
	if p.Recall != 0.5 || p.RecallBatch == nil || *p.RecallBatch != 1 {
		t.Errorf("recall %v, batch %v; want 0.5 and 1", p.Recall, p.RecallBatch)
	}
	if p.DistComps != 0 {
		t.Errorf("dist comps %v from an index that does not count", p.DistComps)
	}
}

func TestRunErrors(t *testing.T) {
	ds := tinyDataset(t, 200, 5, 8, distance.L2)
	gt, _ := EnsureGroundTruth(context.Background(), ds, 10, func(string, ...any) {}, nil)
	emit := func(Point) error { return nil }
	if err := Run(context.Background(), ds, gt, quickConfig("nosuch"), emit); !errors.Is(err, nearkit.ErrInvalidConfig) || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("unknown index: %v", err)
	}
	if err := Run(context.Background(), ds, gt, quickConfig("ivfpq"), emit); !errors.Is(err, nearkit.ErrInvalidConfig) || !strings.Contains(err.Error(), "divide Dim") {
		t.Errorf("ivfpq with m=16 on 8 dimensions: %v", err)
	}
	cfg := quickConfig("flat")
	cfg.K = 101
	if err := Run(context.Background(), ds, gt, cfg, emit); err == nil {
		t.Error("k deeper than the ground truth accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Run(ctx, ds, gt, quickConfig("flat"), emit); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	stop := errors.New("stop")
	if err := Run(context.Background(), ds, gt, quickConfig("flat"), func(Point) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("emit error: %v", err)
	}
}

func TestWriteTableAndPlot(t *testing.T) {
	rb := 0.9
	pts := []Point{
		{Index: "flat", BuildParams: map[string]any{}, SearchParams: map[string]any{}, Recall: 1, QPS: 300, QPSBatch: 900, DistComps: 20000},
		{Index: "hnsw", BuildParams: map[string]any{"M": 16, "efc": 200}, SearchParams: map[string]any{"ef": 10}, Recall: 0.8, QPS: 20000, RecallBatch: &rb},
		{Index: "hnsw", BuildParams: map[string]any{"M": 16, "efc": 200}, SearchParams: map[string]any{"ef": 40}, Recall: 0.97, QPS: 9000, BuildS1T: 3},
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, pts); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2+len(pts) {
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	// Right-aligned numeric columns end at the same place on every row.
	end := strings.Index(lines[0], "QPS batch") + len("QPS batch")
	for _, l := range lines[2:] {
		if r := []rune(l); len(r) < end || r[end-1] == ' ' {
			t.Errorf("misaligned row %q", l)
		}
	}
	if !strings.Contains(buf.String(), "M=16,efc=200") || !strings.Contains(buf.String(), "ef=40") || !strings.Contains(buf.String(), "(batch 0.9000)") {
		t.Errorf("table:\n%s", buf.String())
	}
	path := filepath.Join(t.TempDir(), "p.png")
	if err := Plot(path, "test", pts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("plot file: %v", err)
	}
	if err := Plot(path, "x", []Point{{QPS: 0}}); err == nil {
		t.Error("plot with nothing to show succeeded")
	}
}

func TestPercentileAndParse(t *testing.T) {
	lat := []time.Duration{1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000}
	if p := percentile(lat, 0.5); p != 5 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(lat, 0.99); p != 10 {
		t.Errorf("p99 %v", p)
	}
	if xs, err := ParseInts("10, 20,40"); err != nil || !slices.Equal(xs, []int{10, 20, 40}) {
		t.Errorf("%v %v", xs, err)
	}
	for _, s := range []string{"1,x", "0", "-3", "1,,2"} {
		if _, err := ParseInts(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if FormatParams(map[string]any{"b": 2, "a": 1}) != "a=1,b=2" || FormatParams(nil) != "-" {
		t.Error("FormatParams")
	}
}

func TestRunHNSWSweep(t *testing.T) {
	ds := tinyDataset(t, 2000, 40, 16, distance.L2)
	gt, err := EnsureGroundTruth(context.Background(), ds, 10, func(string, ...any) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig("hnsw")
	cfg.Params = Params{Seed: 1}
	for name, v := range map[string]string{"M": "8,12", "efc": "64", "ef": "10,200"} {
		if err := cfg.Params.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	var pts []Point
	if err := Run(context.Background(), ds, gt, cfg, func(p Point) error { pts = append(pts, p); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(pts) != 4 {
		t.Fatalf("%d points, want 2 builds × 2 ef", len(pts))
	}
	for i, p := range pts {
		wantM, wantEf := []int{8, 8, 12, 12}[i], []int{10, 200, 10, 200}[i]
		if p.BuildParams["M"] != wantM || p.BuildParams["efc"] != 64 || p.SearchParams["ef"] != wantEf {
			t.Errorf("point %d: build %v search %v", i, p.BuildParams, p.SearchParams)
		}
		if p.DistComps <= 0 || p.DistComps >= 2000*1.01 {
			t.Errorf("point %d: %v distance computations per query", i, p.DistComps)
		}
	}
	// A wide beam on 2,000 points is all but exact, and never worse than
	// a narrow one.
	for _, i := range []int{1, 3} {
		if pts[i].Recall < 0.95 || pts[i].Recall < pts[i-1].Recall {
			t.Errorf("M=%v: recall %v at ef=10, %v at ef=200", pts[i].BuildParams["M"], pts[i-1].Recall, pts[i].Recall)
		}
	}
}

func TestRegistryFlags(t *testing.T) {
	owners := map[string][]string{}
	for _, f := range Flags() {
		owners[f.Name] = f.Owners
	}
	if !slices.Equal(owners["ef"], []string{"hnsw", "hnsw-sq8"}) || owners["nosuch"] != nil {
		t.Errorf("flag owners %v", owners)
	}
	if err := CheckFlags([]string{"flat", "hnsw"}, []string{"M", "ef"}); err != nil {
		t.Error(err)
	}
	err := CheckFlags([]string{"flat"}, []string{"ef"})
	if !errors.Is(err, nearkit.ErrInvalidConfig) || !strings.Contains(err.Error(), "-ef belongs to hnsw, hnsw-sq8") {
		t.Errorf("flag of an unchosen index: %v", err)
	}
	var p Params
	if got := p.Ints("M"); !slices.Equal(got, []int{16}) {
		t.Errorf("default M = %v", got)
	}
	for _, bad := range [][2]string{{"M", "0"}, {"M", ""}, {"ef", "10,x"}, {"nosuch", "1"}} {
		if err := p.Set(bad[0], bad[1]); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("Set(%q, %q): %v", bad[0], bad[1], err)
		}
	}
	if err := p.Set("M", "8, 24"); err != nil || !slices.Equal(p.Ints("M"), []int{8, 24}) {
		t.Errorf("Set M: %v %v", err, p.Ints("M"))
	}
}

func TestWriteVerdict(t *testing.T) {
	pts := []Point{
		{Index: "flat", Recall: 1, QPS: 500},
		{Index: "hnsw", BuildParams: map[string]any{"M": 16}, SearchParams: map[string]any{"ef": 10}, Recall: 0.93, QPS: 20000},
		{Index: "hnsw", BuildParams: map[string]any{"M": 16}, SearchParams: map[string]any{"ef": 40}, Recall: 0.995, QPS: 8000},
		{Index: "hnsw-sq8", BuildParams: map[string]any{"M": 4}, SearchParams: map[string]any{"ef": 10}, Recall: 0.5, QPS: 30000},
	}
	var sb strings.Builder
	if err := WriteVerdict(&sb, pts); err != nil {
		t.Fatal(err)
	}
	out := sb.String()
	for _, want := range []string{
		"flat is exact (recall 1) at 500 QPS",
		"hnsw M=16: ef=10 reaches recall 0.930 at 20.0k QPS (40.0× flat); ef=40 reaches recall 0.995 at 8000 QPS (16.0× flat).",
		"hnsw-sq8 M=4: best recall 0.500 (ef=10)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verdict lacks %q:\n%s", want, out)
		}
	}
}

// TestHDF5GroundTruth checks that an ann-benchmarks file's own neighbours
// pass the spot check and are used as they are.
func TestHDF5GroundTruth(t *testing.T) {
	ds, err := dataset.Load("../dataset/hdf5/testdata/ann_angular.hdf5", dataset.Options{FileMetric: true, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	gt, err := EnsureGroundTruth(context.Background(), ds, 10, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if gt.Path != "" || gt.K != 20 || len(lines) != 1 || !strings.Contains(lines[0], "own") {
		t.Errorf("ground truth from %q, K %d; log %q", gt.Path, gt.K, lines)
	}
}

// TestWriteANNResult runs flat with Answers and reads the ann-benchmarks
// result file back: flat's neighbours are the ground truth, and the
// distances are Euclidean (the square root of flat's squared L2).
func TestWriteANNResult(t *testing.T) {
	ds := tinyDataset(t, 300, 20, 8, distance.L2)
	gt, err := EnsureGroundTruth(context.Background(), ds, 10, func(string, ...any) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := quickConfig("flat")
	cfg.Answers = true
	var p Point
	if err := Run(context.Background(), ds, gt, cfg, func(pt Point) error { p = pt; return nil }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path, err := WriteANNResult(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "synthetic", "10", "nearkit-flat", "default.hdf5"); path != want {
		t.Errorf("path %s, want %s", path, want)
	}
	f, err := hdf5.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, err := f.AttrString("distance"); s != "euclidean" || err != nil {
		t.Errorf("distance %q, %v", s, err)
	}
	nbd, err := f.Dataset("neighbors")
	if err != nil {
		t.Fatal(err)
	}
	nb, err := nbd.Int32s()
	if err != nil {
		t.Fatal(err)
	}
	dd, err := f.Dataset("distances")
	if err != nil {
		t.Fatal(err)
	}
	dists, err := dd.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	for q := range ds.NQ() {
		if !slices.Equal(nb[q*10:(q+1)*10], gt.Row(q)[:10]) {
			t.Fatalf("query %d: neighbours %v, ground truth %v", q, nb[q*10:(q+1)*10], gt.Row(q)[:10])
		}
		id := nb[q*10]
		want := math.Sqrt(exactDistance(distance.L2, ds.Queries[q*8:(q+1)*8], ds.Base[int(id)*8:(int(id)+1)*8]))
		if math.Abs(float64(dists[q*10])-want) > 1e-4*want+1e-6 {
			t.Fatalf("query %d: distance %g, want Euclidean %g", q, dists[q*10], want)
		}
	}
	if _, err := WriteANNResult(dir, Point{}); err == nil {
		t.Error("a point without answers was written")
	}
}
