package hnsw

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// TestSQ8Recall: a quantized index finds nearly what the float index on
// the same graph finds, for every metric, and returns exact float32
// distances (re-ranking).
func TestSQ8Recall(t *testing.T) {
	n, nq := sizes()
	const dim, k, ef = 32, 10, 64
	rng := rand.New(rand.NewPCG(7, 7))
	data := clustered(rng, n+nq, dim)
	base, queries := data[:n*dim], data[n*dim:]
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			fx := build(t, Config{Dim: dim, Metric: m, Seed: 1}, base)
			qx := buildQ(t, Config{Dim: dim, Metric: m, Seed: 1, Quantization: SQ8}, base)
			if got := qx.Config().Quantization; got != SQ8 {
				t.Fatalf("Config().Quantization = %v", got)
			}
			rf := recallAt(t, fx, base, queries, k, ef)
			rq := recallAt(t, qx, base, queries, k, ef)
			t.Logf("recall@%d ef=%d: float32 %.3f, sq8 %.3f", k, ef, rf, rq)
			if rq < rf-0.03 || rq < 0.85 {
				t.Errorf("sq8 recall %.3f, float32 %.3f", rq, rf)
			}
			// Returned distances are the float32 ones.
			kern := m.Kernels()
			for i := range min(nq, 20) {
				q := queries[i*dim : (i+1)*dim]
				qq := slices.Clone(q)
				if m.Normalizes() {
					distance.Normalize(qq)
				}
				res, err := qx.Search(nil, q, k, nearkit.SearchOptions{Ef: ef})
				if err != nil {
					t.Fatal(err)
				}
				if len(res) != k {
					t.Fatalf("%d results", len(res))
				}
				for _, r := range res {
					v := slices.Clone(base[(r.ID-1)/3*dim:][:dim])
					if m.Normalizes() {
						distance.Normalize(v)
					}
					if want := kern.Distance(qq, v); r.Distance != want {
						t.Fatalf("id %d: distance %v, float32 distance %v", r.ID, r.Distance, want)
					}
				}
			}
		})
	}
}

// TestSQ8Lossless: on 8-bit data the codes are exact, the search skips
// re-ranking and returns what the float index returns; one lossy vector
// turns re-ranking back on.
func TestSQ8Lossless(t *testing.T) {
	n, nq := sizes()
	const dim, k = 32, 10
	rng := rand.New(rand.NewPCG(8, 8))
	data := clustered(rng, n+nq, dim)
	for i, v := range data {
		data[i] = float32(max(0, min(255, math.Round(float64(v)*30+128))))
	}
	for i := range dim { // the full range, so the step is 1
		data[i], data[dim+i] = 0, 255
	}
	base, queries := data[:n*dim], data[n*dim:]
	fx := build(t, Config{Dim: dim, Seed: 1}, base)
	qx := buildQ(t, Config{Dim: dim, Seed: 1, Quantization: SQ8}, base)
	if qx.quant.exact.Load() != codesExact {
		t.Fatal("codes of 8-bit data not exact")
	}
	check := func() {
		t.Helper()
		for i := range nq {
			q := queries[i*dim : (i+1)*dim]
			a, _ := fx.Search(nil, q, k, nearkit.SearchOptions{Ef: 32})
			b, _ := qx.Search(nil, q, k, nearkit.SearchOptions{Ef: 32})
			if !slices.Equal(a, b) {
				t.Fatalf("query %d: float %v, sq8 %v", i, a, b)
			}
		}
	}
	check()
	lossy := slices.Clone(base[:dim])
	lossy[0] += 0.25
	for _, x := range []*Index{fx, qx} {
		if err := x.Add(1<<40, lossy); err != nil {
			t.Fatal(err)
		}
	}
	if qx.quant.exact.Load() != codesLossy {
		t.Fatal("a lossy vector left the codes flagged exact")
	}
	check()
}

// TestSQ8Training: an SQ8 index takes vectors before it has a codec and
// searches them exactly; it trains itself at TrainSize vectors, or on
// Train, encoding what it holds; Train twice or on an unquantized index
// fails.
func TestSQ8Training(t *testing.T) {
	const dim = 8
	data := clustered(rand.New(rand.NewPCG(1, 1)), TrainSize+300, dim)
	x, err := New(Config{Dim: dim, Quantization: SQ8})
	if err != nil {
		t.Fatal(err)
	}
	if x.Trained() {
		t.Fatal("new SQ8 index reports trained")
	}
	if res, err := x.Search(nil, data[:dim], 3, nearkit.SearchOptions{}); err != nil || len(res) != 0 {
		t.Fatalf("search of an empty untrained index: %v, %v", res, err)
	}
	if err := x.Add(0, data[:dim]); err != nil {
		t.Fatalf("Add before training: %v", err)
	}
	ids := make([]uint64, TrainSize-2)
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	if err := x.AddBatch(context.Background(), ids, data[dim:(TrainSize-1)*dim]); err != nil {
		t.Fatal(err)
	}
	if x.Trained() {
		t.Fatalf("trained at %d vectors, before TrainSize", x.Len())
	}
	// Untrained: the float32 search, exact distances.
	res, err := x.Search(nil, data[5*dim:6*dim], 1, nearkit.SearchOptions{})
	if err != nil || len(res) != 1 || res[0].ID != 5 || res[0].Distance != 0 {
		t.Fatalf("untrained search: %v, %v", res, err)
	}
	if err := x.Add(TrainSize-1, data[(TrainSize-1)*dim:TrainSize*dim]); err != nil {
		t.Fatal(err)
	}
	if !x.Trained() {
		t.Fatalf("not trained at %d vectors", x.Len())
	}
	if err := x.Train(context.Background(), data); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("second Train: %v", err)
	}
	// Every vector stored before training got its code.
	d := x.dir.Load()
	code := make([]uint8, dim)
	for s := range x.nslots.Load() {
		x.codec().EncodeUnchecked(code, x.vecOf(d, s))
		if !slices.Equal(code, x.codeOf(d, s)) {
			t.Fatalf("slot %d: code %v, want %v", s, x.codeOf(d, s), code)
		}
	}
	if err := x.Add(100000, data[:dim]); err != nil {
		t.Fatal(err)
	}
	// Out of the trained range: saturated codes, still found, exact distance.
	far := make([]float32, dim)
	for i := range far {
		far[i] = 1e4
	}
	if err := x.Add(200000, far); err != nil {
		t.Fatal(err)
	}
	res, err = x.Search(nil, far, 1, nearkit.SearchOptions{})
	if err != nil || len(res) != 1 || res[0].ID != 200000 || res[0].Distance != 0 {
		t.Fatalf("far vector: %v, %v", res, err)
	}
	// Train on an index that holds vectors encodes them.
	y, _ := New(Config{Dim: dim, Quantization: SQ8, Metric: distance.Cosine})
	for i := range 50 {
		_ = y.Add(uint64(i), data[i*dim:(i+1)*dim])
	}
	if err := y.Train(context.Background(), data); err != nil || !y.Trained() {
		t.Fatalf("Train of a non-empty index: %v", err)
	}
	res, err = y.Search(nil, data[7*dim:8*dim], 1, nearkit.SearchOptions{})
	if err != nil || len(res) != 1 || res[0].ID != 7 {
		t.Fatalf("after Train: %v, %v", res, err)
	}
	fx, _ := New(Config{Dim: dim})
	if err := fx.Train(context.Background(), data); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("Train on a float index: %v", err)
	}
	if !fx.Trained() {
		t.Fatal("float index not Trained")
	}
	if _, err := New(Config{Dim: dim, Quantization: 7}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("bad Quantization: %v", err)
	}
	bad := slices.Clone(data[:dim])
	bad[0] = float32(0) / float32(len(bad)-len(bad)) // NaN
	y, _ = New(Config{Dim: dim, Quantization: SQ8})
	if err := y.Train(context.Background(), bad); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Fatalf("Train on NaN: %v", err)
	}
	if err := y.Train(context.Background(), nil); !errors.Is(err, nearkit.ErrEmpty) {
		t.Fatalf("Train on nothing: %v", err)
	}
}

// TestSQ8Memory: codes are a quarter of the float32 vectors and the
// breakdown adds up to MemoryUsage.
func TestSQ8Memory(t *testing.T) {
	const dim = 128
	data := clustered(rand.New(rand.NewPCG(3, 1)), 2000, dim)
	fx := build(t, Config{Dim: dim}, data)
	qx := buildQ(t, Config{Dim: dim, Quantization: SQ8}, data)
	fs, qs := fx.MemoryStats(), qx.MemoryStats()
	if fs.Codes != 0 || qs.Codes < qs.Vectors/4 || qs.Codes > qs.Vectors/4+12*dim {
		t.Fatalf("codes: float %d, sq8 %d (vectors %d)", fs.Codes, qs.Codes, qs.Vectors)
	}
	if qs.Graph+qs.Codes+qs.Vectors != qx.MemoryUsage() || fs.Graph+fs.Vectors != fx.MemoryUsage() {
		t.Fatalf("breakdown %+v does not add up to %d", qs, qx.MemoryUsage())
	}
	// The graph is the same structure; what a quantized search touches is
	// the graph and a quarter of the vectors' bytes (at 784-d, the
	// Fashion-MNIST benchmark's 28 %; here, at 128-d, the links weigh
	// more).
	if qs.Graph != fs.Graph {
		t.Errorf("graph: float %d, sq8 %d bytes", fs.Graph, qs.Graph)
	}
	t.Logf("graph+codes = %.2f of the float index", float64(qs.Graph+qs.Codes)/float64(fx.MemoryUsage()))
}

// TestSQ8Persist: a quantized index survives WriteTo/Read with the same
// results.
func TestSQ8Persist(t *testing.T) {
	const dim = 16
	rng := rand.New(rand.NewPCG(2, 5))
	data := clustered(rng, 1000, dim)
	x := buildQ(t, Config{Dim: dim, Quantization: SQ8}, data)
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if y.Config().Quantization != SQ8 || !y.Trained() {
		t.Fatalf("loaded index: quantization %v, trained %v", y.Config().Quantization, y.Trained())
	}
	for i := range 20 {
		q := data[i*dim : (i+1)*dim]
		a, _ := x.Search(nil, q, 5, nearkit.SearchOptions{})
		b, _ := y.Search(nil, q, 5, nearkit.SearchOptions{})
		if !slices.Equal(a, b) {
			t.Fatalf("query %d: %v before, %v after", i, a, b)
		}
	}
}

// TestSQ8Concurrent: searches on codes while AddBatch inserts; -race.
func TestSQ8Concurrent(t *testing.T) {
	n, _ := sizes()
	const dim = 16
	data := clustered(rand.New(rand.NewPCG(6, 1)), 2*n, dim)
	x := buildQ(t, Config{Dim: dim, M: 8, EfConstruction: 32, Quantization: SQ8}, data[:n*dim])
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(n+i)*3 + 1
	}
	done := make(chan error, 1)
	go func() { done <- x.AddBatch(context.Background(), ids, data[n*dim:]) }()
	var res []nearkit.Result
	for i := range n / 2 {
		var err error
		res, err = x.Search(res[:0], data[i*dim:(i+1)*dim], 5, nearkit.SearchOptions{})
		if err != nil || len(res) != 5 {
			t.Fatalf("search: %d results, %v", len(res), err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// BenchmarkSearchSQ8 is BenchmarkSearch's data, float32 against codes.
func BenchmarkSearchSQ8(b *testing.B) {
	const n, dim = 20000, 128
	rng := rand.New(rand.NewPCG(1, 2))
	data := clustered(rng, n+1000, dim)
	queries := data[n*dim:]
	for _, m := range []distance.Metric{distance.L2, distance.Cosine} {
		for _, quant := range []Quantization{NoQuantization, SQ8} {
			x := buildQ(b, Config{Dim: dim, Metric: m, Seed: 1, Quantization: quant}, data[:n*dim])
			for _, ef := range []int{10, 40} {
				b.Run(fmt.Sprintf("metric=%v/storage=%v/ef=%d", m, quant, ef), func(b *testing.B) {
					dst := make([]nearkit.Result, 0, 10)
					i := 0
					b.ReportAllocs()
					for b.Loop() {
						q := queries[(i%1000)*dim : (i%1000+1)*dim]
						dst, _ = x.Search(dst[:0], q, 10, nearkit.SearchOptions{Ef: ef})
						i++
					}
				})
			}
		}
	}
}

func ExampleConfig_quantization() {
	x, _ := New(Config{Dim: 2, Seed: 1, Quantization: SQ8})
	ids := make([]uint64, 100)
	vecs := make([]float32, 0, 200)
	for i := range ids {
		ids[i] = uint64(i)
		vecs = append(vecs, float32(i), float32(i%10))
	}
	// Train learns the 8-bit codec's ranges (without it, the index trains
	// itself on its vectors once it holds TrainSize of them).
	_ = x.Train(context.Background(), vecs)
	_ = x.AddBatch(context.Background(), ids, vecs)
	res, _ := x.Search(nil, []float32{42, 2}, 2, nearkit.SearchOptions{})
	for _, r := range res {
		// Distances are re-ranked with the float32 vectors: exact.
		fmt.Println(r.ID, r.Distance)
	}
	// Output:
	// 42 0
	// 41 2
}

// TestSQ8TrainsOnEnoughData: an SQ8 index whose first AddBatch holds one
// vector does not fit its codec to it (ranges of width zero would
// saturate every other vector's code): its recall is that of an index
// trained on all the data.
func TestSQ8TrainsOnEnoughData(t *testing.T) {
	n, nq := sizes()
	n = max(n, 2*TrainSize)
	const dim, k, ef = 16, 10, 32
	data := clustered(rand.New(rand.NewPCG(3, 3)), n+nq, dim)
	base, queries := data[:n*dim], data[n*dim:]
	x, _ := New(Config{Dim: dim, Seed: 1, Quantization: SQ8})
	if err := x.AddBatch(context.Background(), []uint64{1}, base[:dim]); err != nil {
		t.Fatal(err)
	}
	ids := make([]uint64, n-1)
	for i := range ids {
		ids[i] = uint64(i+1)*3 + 1
	}
	if err := x.AddBatch(context.Background(), ids, base[dim:]); err != nil {
		t.Fatal(err)
	}
	if !x.Trained() {
		t.Fatal("not trained")
	}
	ref := buildQ(t, Config{Dim: dim, Seed: 1, Quantization: SQ8}, base)
	got, want := recallAt(t, x, base, queries, k, ef), recallAt(t, ref, base, queries, k, ef)
	t.Logf("recall@%d: self-trained %.3f, trained on all %.3f", k, got, want)
	if got < want-0.03 {
		t.Errorf("self-trained recall %.3f, trained on all %.3f", got, want)
	}
}
