package ivf

import (
	"context"
	"errors"
	"flag"
	"math"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

const (
	tDim = 32
	tQ   = 50
)

// tN is the number of test vectors; TestMain lowers it for -race -short,
// where the detector makes training ten times slower.
var tN = 3000

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() && raceEnabled {
		tN = 1500
	}
	os.Exit(m.Run())
}

func testData() (data, queries []float32) {
	all := clustered(tN+tQ, tDim, 24, 1)
	return all[:tN*tDim], all[tN*tDim:]
}

func TestRecall(t *testing.T) {
	data, queries := testData()
	const k = 10
	cases := []struct {
		name   string
		cfg    Config
		opts   nearkit.SearchOptions
		recall float64
	}{
		{"flat/l2", Config{Encoding: Flat}, nearkit.SearchOptions{NProbe: 16}, 1},
		{"flat/ip", Config{Encoding: Flat, Metric: distance.InnerProduct}, nearkit.SearchOptions{NProbe: 16}, 1},
		{"flat/cosine", Config{Encoding: Flat, Metric: distance.Cosine}, nearkit.SearchOptions{NProbe: 16}, 1},
		{"flat/l2/nprobe4", Config{Encoding: Flat}, nearkit.SearchOptions{NProbe: 4}, 0.9},
		{"sq8/l2", Config{Encoding: SQ8}, nearkit.SearchOptions{NProbe: 16}, 0.9},
		{"sq8/ip", Config{Encoding: SQ8, Metric: distance.InnerProduct}, nearkit.SearchOptions{NProbe: 16}, 0.85},
		{"pq/l2", Config{Encoding: PQ, M: 8}, nearkit.SearchOptions{NProbe: 16}, 0.5},
		{"pq/l2/rerank", Config{Encoding: PQ, M: 8, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.97},
		{"pq/opq/rerank", Config{Encoding: PQ, M: 8, OPQ: true, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.97},
		{"pq/ip/rerank", Config{Encoding: PQ, M: 8, Metric: distance.InnerProduct, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.95},
		{"pq/cosine/rerank", Config{Encoding: PQ, M: 8, Metric: distance.Cosine, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.95},
		{"pqfs/l2", Config{Encoding: PQFastScan, M: 16}, nearkit.SearchOptions{NProbe: 16}, 0.4},
		{"pqfs/l2/rerank", Config{Encoding: PQFastScan, M: 16, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.95},
		{"pqfs/ip/rerank", Config{Encoding: PQFastScan, M: 16, Metric: distance.InnerProduct, KeepVectors: true}, nearkit.SearchOptions{NProbe: 16, Rerank: 10}, 0.93},
		{"hnswcoarse/flat", Config{Encoding: Flat, Coarse: CoarseHNSW}, nearkit.SearchOptions{NProbe: 16}, 0.99},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && (tc.cfg.OPQ || tc.cfg.Metric != distance.L2) {
				t.Skip("short")
			}
			if puregoBuild && tc.cfg.OPQ {
				t.Skip("OPQ training with the portable kernels")
			}
			cfg := tc.cfg
			cfg.Dim, cfg.NList, cfg.Seed = tDim, 16, 3
			x := build(t, cfg, data)
			gt := truth(t, cfg.Metric, tDim, data, queries, k, nil)
			got := recall(t, x, queries, gt, k, tc.opts)
			t.Logf("recall@%d = %.3f", k, got)
			if got < tc.recall {
				t.Errorf("recall %.3f < %.3f", got, tc.recall)
			}
			// Exact encodings return exact distances.
			if tc.recall == 1 {
				res, _ := x.Search(nil, queries[:tDim], k, tc.opts)
				for i, r := range res {
					if math.Abs(float64(r.Distance-gt[0][i].Distance)) > 1e-3*math.Max(1, math.Abs(float64(r.Distance))) || r.ID != gt[0][i].ID {
						t.Fatalf("result %d = %+v, want %+v", i, r, gt[0][i])
					}
				}
			}
		})
	}
}

// TestRecallGrowsWithNProbe checks that probing more lists never loses
// recall on average and that probing all lists of a Flat index is exact.
func TestRecallGrowsWithNProbe(t *testing.T) {
	data, queries := testData()
	x := build(t, Config{Dim: tDim, NList: 32, Seed: 1}, data)
	gt := truth(t, distance.L2, tDim, data, queries, 10, nil)
	prev := 0.0
	for _, np := range []int{1, 2, 4, 8, 32} {
		r := recall(t, x, queries, gt, 10, nearkit.SearchOptions{NProbe: np})
		if r+1e-9 < prev {
			t.Errorf("nprobe %d: recall %.3f below %.3f", np, r, prev)
		}
		prev = r
	}
	if prev != 1 {
		t.Errorf("nprobe = nlist: recall %.3f, want 1", prev)
	}
}

func TestFilterExactK(t *testing.T) {
	data, queries := testData()
	for _, enc := range []Encoding{Flat, SQ8, PQ, PQFastScan} {
		t.Run(enc.String(), func(t *testing.T) {
			x := build(t, Config{Dim: tDim, NList: 16, Encoding: enc, M: 8, Seed: 2}, data)
			// A rare filter: 1 ID in 97.
			f := nearkit.FilterFunc(func(id uint64) bool { return id%97 == 5 })
			allowed := 0
			for id := range uint64(tN) {
				if f(id) {
					allowed++
				}
			}
			for _, k := range []int{10, allowed, allowed + 5} {
				res, err := x.Search(nil, queries[:tDim], k, nearkit.SearchOptions{NProbe: 16, Filter: f})
				if err != nil {
					t.Fatal(err)
				}
				if want := min(k, allowed); len(res) != want {
					t.Fatalf("k=%d: %d results, want %d", k, len(res), want)
				}
				for _, r := range res {
					if !f(r.ID) {
						t.Fatalf("filtered-out id %d returned", r.ID)
					}
				}
				if !slices.IsSortedFunc(res, nearkit.CompareResults) {
					t.Fatal("results not sorted")
				}
			}
			if enc == Flat {
				gt := truth(t, distance.L2, tDim, data, queries[:tDim], 10, f)
				res, _ := x.Search(nil, queries[:tDim], 10, nearkit.SearchOptions{NProbe: 16, Filter: f})
				for i := range res {
					if res[i].ID != gt[0][i].ID {
						t.Fatalf("filtered result %d: %d, want %d", i, res[i].ID, gt[0][i].ID)
					}
				}
			}
		})
	}
}

// TestDeleteCompaction deletes entries and checks the index answers as
// one trained identically and built from the survivors only: the list
// compaction must move codes (including fast-scan nibbles) intact.
func TestDeleteCompaction(t *testing.T) {
	data, queries := testData()
	for _, enc := range []Encoding{Flat, SQ8, PQ, PQFastScan} {
		t.Run(enc.String(), func(t *testing.T) {
			cfg := Config{Dim: tDim, NList: 8, Encoding: enc, M: 8, Seed: 4, KeepVectors: enc != Flat}
			x, err := New(quick(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := x.Train(context.Background(), data); err != nil {
				t.Fatal(err)
			}
			ref := clone(t, x)
			if err := x.AddBatch(context.Background(), seqIDs(tN), data); err != nil {
				t.Fatal(err)
			}
			var keepIDs []uint64
			var keep []float32
			for id := range uint64(tN) {
				if id%3 == 0 || id%7 == 1 {
					if err := x.Delete(id); err != nil {
						t.Fatal(err)
					}
					continue
				}
				keepIDs = append(keepIDs, id)
				keep = append(keep, data[id*tDim:(id+1)*tDim]...)
			}
			if err := ref.AddBatch(context.Background(), keepIDs, keep); err != nil {
				t.Fatal(err)
			}
			if x.Len() != len(keepIDs) || x.Len() != ref.Len() {
				t.Fatalf("Len %d, want %d", x.Len(), len(keepIDs))
			}
			if err := x.Delete(0); !errors.Is(err, nearkit.ErrUnknownID) {
				t.Fatalf("second delete: %v", err)
			}
			for i := range tQ {
				q := queries[i*tDim : (i+1)*tDim]
				for _, rr := range []int{0, 4} {
					opts := nearkit.SearchOptions{NProbe: 8, Rerank: rr}
					if enc == Flat && rr > 0 {
						continue
					}
					a, _ := x.Search(nil, q, 10, opts)
					b, _ := ref.Search(nil, q, 10, opts)
					if !sameResults(a, b) {
						t.Fatalf("query %d rerank %d: after deletes %v, fresh %v", i, rr, a, b)
					}
				}
			}
			// Delete everything: the index is empty and searchable.
			for _, id := range keepIDs {
				if err := x.Delete(id); err != nil {
					t.Fatal(err)
				}
			}
			if res, err := x.Search(nil, queries[:tDim], 5, nearkit.SearchOptions{}); err != nil || len(res) != 0 || x.Len() != 0 {
				t.Fatalf("empty index: %v %v len %d", res, err, x.Len())
			}
			if err := x.Add(7, data[:tDim]); err != nil {
				t.Fatal(err)
			}
			if res, _ := x.Search(nil, data[:tDim], 1, nearkit.SearchOptions{NProbe: 8}); len(res) != 1 || res[0].ID != 7 {
				t.Fatalf("re-add: %v", res)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	data, _ := testData()
	x := build(t, Config{Dim: tDim, NList: 8, Seed: 5}, data)
	target := data[100*tDim : 101*tDim]
	if err := x.Update(5, target); err != nil {
		t.Fatal(err)
	}
	res, _ := x.Search(nil, target, 2, nearkit.SearchOptions{NProbe: 8})
	if len(res) != 2 || res[0].Distance != 0 || res[1].Distance != 0 {
		t.Fatalf("after update: %v", res)
	}
	if x.Len() != tN {
		t.Fatalf("Len %d", x.Len())
	}
	if err := x.Update(uint64(tN)+5, target); !errors.Is(err, nearkit.ErrUnknownID) {
		t.Fatalf("update unknown: %v", err)
	}
	bad := append([]float32(nil), target...)
	bad[3] = float32(math.NaN())
	if err := x.Update(5, bad); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Fatalf("update NaN: %v", err)
	}
}

func TestErrors(t *testing.T) {
	data, queries := testData()
	ctx := context.Background()
	for _, cfg := range []Config{
		{},
		{Dim: 8},
		{Dim: 8, NList: -1},
		{Dim: 8, NList: 4, Encoding: PQ},
		{Dim: 8, NList: 4, Encoding: PQ, M: 3},
		{Dim: 8, NList: 4, Encoding: 9},
		{Dim: 8, NList: 4, OPQ: true},
		{Dim: 8, NList: 4, Metric: 7},
		{Dim: 8, NList: 4, NProbe: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("New(%+v): %v", cfg, err)
		}
	}
	x, _ := New(quick(Config{Dim: tDim, NList: 16, Encoding: PQ, M: 8}))
	if err := x.Add(1, data[:tDim]); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("add before train: %v", err)
	}
	if res, err := x.Search(nil, queries[:tDim], 3, nearkit.SearchOptions{}); err != nil || len(res) != 0 {
		t.Errorf("search untrained: %v %v", res, err)
	}
	if err := x.Train(ctx, data[:10*tDim]); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("fewer samples than lists: %v", err)
	}
	if err := x.Train(ctx, data[:100*tDim]); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("fewer samples than codewords: %v", err)
	}
	if err := x.Train(ctx, data[:tDim*10+3]); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("ragged samples: %v", err)
	}
	if err := x.Train(ctx, data); err != nil {
		t.Fatal(err)
	}
	if err := x.Train(ctx, data); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("second train: %v", err)
	}
	if err := x.AddBatch(ctx, seqIDs(10), data[:10*tDim]); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(3, data[:tDim]); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("duplicate: %v", err)
	}
	if err := x.AddBatch(ctx, []uint64{20, 20}, data[:2*tDim]); !errors.Is(err, nearkit.ErrDuplicateID) || x.Len() != 10 {
		t.Errorf("duplicate in batch: %v, Len %d", err, x.Len())
	}
	if err := x.Add(30, data[:tDim-1]); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("short vector: %v", err)
	}
	nan := append([]float32(nil), data[:tDim]...)
	nan[0] = float32(math.Inf(1))
	if err := x.Add(31, nan); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("Inf vector: %v", err)
	}
	if _, err := x.Search(nil, nan, 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("Inf query: %v", err)
	}
	if _, err := x.Search(nil, queries[:tDim+1], 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("long query: %v", err)
	}
	for _, k := range []int{0, -1} {
		if _, err := x.Search(nil, queries[:tDim], k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
			t.Errorf("k=%d: %v", k, err)
		}
	}
	if res, err := x.Search(nil, queries[:tDim], math.MaxInt, nearkit.SearchOptions{NProbe: 1 << 30}); err != nil || len(res) != 10 {
		t.Errorf("huge k: %d results, %v", len(res), err)
	}
	if _, err := x.Search(nil, queries[:tDim], 3, nearkit.SearchOptions{NProbe: -2}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("negative nprobe: %v", err)
	}
	if _, err := x.Search(nil, queries[:tDim], 3, nearkit.SearchOptions{Rerank: 2}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("rerank without vectors: %v", err)
	}
	if _, err := x.SearchBatch(ctx, queries[:tDim+2], 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("ragged batch: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := x.AddBatch(cctx, []uint64{100}, data[:tDim]); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled add: %v", err)
	}
}

// TestSearchBatchMatchesSearch checks that the grouped batch search (lists
// shared by the queries of a block scanned once for all) returns exactly
// what one Search per query returns, with filters and re-ranking too.
func TestSearchBatchMatchesSearch(t *testing.T) {
	data, queries := testData()
	f := nearkit.FilterFunc(func(id uint64) bool { return id%3 != 1 })
	for _, cfg := range []Config{
		{Encoding: Flat},
		{Encoding: SQ8, KeepVectors: true},
		{Encoding: PQ, M: 8, KeepVectors: true},
		{Encoding: PQFastScan, M: 16, KeepVectors: true},
	} {
		t.Run(cfg.Encoding.String(), func(t *testing.T) {
			cfg.Dim, cfg.NList, cfg.Seed = tDim, 16, 6
			x := build(t, cfg, data)
			for _, opts := range []nearkit.SearchOptions{
				{NProbe: 4},
				{NProbe: 6, Filter: f, Rerank: 3},
			} {
				got, err := x.SearchBatch(context.Background(), queries, 10, opts)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != tQ {
					t.Fatalf("%d result slices", len(got))
				}
				for i := range tQ {
					want, _ := x.Search(nil, queries[i*tDim:(i+1)*tDim], 10, opts)
					if !slices.Equal(got[i], want) {
						t.Fatalf("query %d: batch %v, single %v", i, got[i], want)
					}
				}
			}
		})
	}
}

// TestConcurrent runs searches beside adds, deletes and updates (run it
// with -race).
func TestConcurrent(t *testing.T) {
	data, queries := testData()
	x, _ := New(quick(Config{Dim: tDim, NList: 8, Encoding: PQFastScan, M: 8, KeepVectors: true, Seed: 7}))
	if err := x.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	n := 1000
	if testing.Short() {
		n = 300
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		for i := range n {
			if err := x.Add(uint64(i), data[i*tDim:(i+1)*tDim]); err != nil {
				t.Error(err)
				return
			}
			if i%5 == 4 {
				if err := x.Delete(uint64(i - 2)); err != nil {
					t.Error(err)
					return
				}
			}
			if i%7 == 6 {
				if err := x.Update(uint64(i), data[(i+1)*tDim:(i+2)*tDim]); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for range 2 {
		go func() {
			defer wg.Done()
			var res []nearkit.Result
			for i := range n / 2 {
				var err error
				res, err = x.Search(res[:0], queries[(i%tQ)*tDim:(i%tQ+1)*tDim], 5, nearkit.SearchOptions{NProbe: 3, Rerank: 2})
				if err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					if _, err := x.SearchBatch(context.Background(), queries[:4*tDim], 3, nearkit.SearchOptions{}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestZeroAllocSearch(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	data, queries := testData()
	for _, tc := range []struct {
		cfg  Config
		opts nearkit.SearchOptions
	}{
		{Config{Encoding: Flat}, nearkit.SearchOptions{NProbe: 4}},
		{Config{Encoding: SQ8}, nearkit.SearchOptions{NProbe: 4}},
		{Config{Encoding: PQ, M: 8, KeepVectors: true}, nearkit.SearchOptions{NProbe: 4, Rerank: 4}},
		{Config{Encoding: PQFastScan, M: 16, KeepVectors: true}, nearkit.SearchOptions{NProbe: 4, Rerank: 4}},
		{Config{Encoding: Flat, Coarse: CoarseHNSW}, nearkit.SearchOptions{NProbe: 4}},
	} {
		cfg := tc.cfg
		cfg.Dim, cfg.NList = tDim, 16
		x := build(t, cfg, data)
		dst := make([]nearkit.Result, 0, 10)
		f := nearkit.FilterFunc(func(id uint64) bool { return id%2 == 0 })
		for _, opts := range []nearkit.SearchOptions{tc.opts, {NProbe: tc.opts.NProbe, Rerank: tc.opts.Rerank, Filter: f}} {
			i := 0
			allocs := testing.AllocsPerRun(50, func() {
				q := queries[(i%tQ)*tDim : (i%tQ+1)*tDim]
				i++
				dst, _ = x.Search(dst[:0], q, 10, opts)
			})
			if allocs != 0 {
				t.Errorf("%v coarse %v: %.1f allocations per Search", cfg.Encoding, cfg.Coarse, allocs)
			}
		}
	}
}

func TestStats(t *testing.T) {
	data, _ := testData()
	x := build(t, Config{Dim: tDim, NList: 16, Encoding: PQ, M: 8}, data)
	s := x.Stats()
	total := 0
	for i := range 16 {
		total += x.ListLen(i)
	}
	if s.Len != tN || total != tN || s.Lists != 16 || s.MaxList < s.MinList || s.Imbalance < 1 || s.CodeBytes != 8 {
		t.Fatalf("stats %+v (sum of lists %d)", s, total)
	}
	if x.MemoryUsage() < int64(tN*(8+8)) {
		t.Fatalf("MemoryUsage %d below the codes and IDs", x.MemoryUsage())
	}
}

// sameResults compares IDs exactly and distances to a few ulps: a batch
// kernel's rounding can depend on a row's position in its list.
func sameResults(a, b []nearkit.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || math.Abs(float64(a[i].Distance-b[i].Distance)) > 1e-5*math.Max(1, math.Abs(float64(a[i].Distance))) {
			return false
		}
	}
	return true
}

// Huge k and Rerank (whose product overflows int) clamp to the index: every
// vector comes back once, in order, for every encoding and for batches.
func TestHugeKAndRerank(t *testing.T) {
	data, queries := testData()
	n := 300
	for _, enc := range []Encoding{Flat, SQ8, PQ, PQFastScan} {
		t.Run(enc.String(), func(t *testing.T) {
			x := build(t, Config{Dim: tDim, NList: 4, Encoding: enc, M: 8, Seed: 4, KeepVectors: enc != Flat}, data[:n*tDim])
			opts := nearkit.SearchOptions{NProbe: 4, Rerank: math.MaxInt}
			for _, k := range []int{n + 1, 1 << 40, math.MaxInt} {
				res, err := x.Search(nil, queries[:tDim], k, opts)
				if err != nil || len(res) != n {
					t.Fatalf("k=%d: %d results, err %v", k, len(res), err)
				}
				for i := 1; i < len(res); i++ {
					if res[i].Distance < res[i-1].Distance {
						t.Fatalf("k=%d: results out of order at %d", k, i)
					}
				}
				batch, err := x.SearchBatch(context.Background(), queries[:2*tDim], k, opts)
				if err != nil || len(batch) != 2 || len(batch[0]) != n {
					t.Fatalf("k=%d batch: %v", k, err)
				}
			}
		})
	}
}
