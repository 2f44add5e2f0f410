package opq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

func trainedPQ(t testing.TB, cfg pq.Config, data []float32) *pq.ProductQuantizer {
	t.Helper()
	p, err := pq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	return p
}

func trained(t testing.TB, cfg Config, data []float32) *Quantizer {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestBeatsPQOnCorrelatedData(t *testing.T) {
	const dim, m = 32, 8
	n := 4000
	if testing.Short() {
		n = 2000
	}
	data := pqtest.Correlated(21, n, dim)
	pcfg := pq.Config{Dim: dim, M: m, NBits: 6, Seed: 1, Iterations: 10}
	p := trainedPQ(t, pcfg, data)
	o := trained(t, Config{PQ: pcfg, Iterations: 6, FirstPQIterations: 10}, data)
	pm, _ := p.ReconstructionError(data)
	om, _ := o.ReconstructionError(data)
	t.Logf("synthetic correlated %d×%d, M=%d nbits=6: PQ MSE %.5g, OPQ MSE %.5g (%.1f%% lower)", n, dim, m, pm, om, 100*(1-om/pm))
	if om >= pm*0.97 {
		t.Errorf("OPQ MSE %v not clearly below PQ MSE %v", om, pm)
	}
	if got := o.PQ().Config(); got != o.Config().PQ || got.Iterations != 10 {
		t.Errorf("trained PQ config %+v, OPQ's %+v", got, o.Config().PQ)
	}
	// The rotation is orthogonal.
	r := o.Rotation()
	for i := range dim {
		for j := range dim {
			dot := 0.0
			for k := range dim {
				dot += float64(r[i*dim+k]) * float64(r[j*dim+k])
			}
			want := 0.0
			if i == j {
				want = 1
			}
			if math.Abs(dot-want) > 1e-4 {
				t.Fatalf("R·Rᵀ[%d][%d] = %v", i, j, dot)
			}
		}
	}
	// ADC through the rotation equals the distance to the decoded vector,
	// and EncodeBatch agrees with Encode.
	code := make([]byte, o.CodeSize())
	rec := make([]float32, dim)
	q := data[:dim]
	table, err := o.LookupTable(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]byte, 50*o.CodeSize())
	if err := o.EncodeBatch(context.Background(), batch, data[:50*dim]); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 50; i++ {
		if err := o.Encode(code, data[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(code, batch[i*o.CodeSize():(i+1)*o.CodeSize()]) {
			t.Fatalf("row %d: Encode %x, EncodeBatch %x", i, code, batch[i*o.CodeSize():(i+1)*o.CodeSize()])
		}
		if err := o.Decode(rec, code); err != nil {
			t.Fatal(err)
		}
		want := pqtest.SquaredL2(q, rec)
		if got := float64(o.PQ().Distance(table, code)); math.Abs(got-want) > 1e-3*(1+want) {
			t.Fatalf("row %d: ADC %v, want %v", i, got, want)
		}
	}
	// Serialization round trip.
	var buf bytes.Buffer
	if _, err := o.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	o2, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if o2.Config() != o.Config() {
		t.Errorf("config after round trip %+v, before %+v", o2.Config(), o.Config())
	}
	om2, _ := o2.ReconstructionError(data)
	if om2 != om {
		t.Errorf("MSE after round trip %v, before %v", om2, om)
	}
	pqtest.CheckCorruption(t, buf.Bytes(), func(b *bytes.Reader) error { _, err := Read(b); return err })
}

// TestNoAllocations: encoding, decoding, rotating and building a query's
// table into a buffer with room allocate nothing, up to rotateOnStack
// dimensions.
func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race the stack buffers escape to the heap")
	}
	for _, dim := range []int{16, rotateOnStack} {
		// Built from trained codebooks and an identity rotation: an SVD
		// at rotateOnStack dimensions would take seconds.
		data := pqtest.Uniform(1, 300, dim)
		p := trainedPQ(t, pq.Config{Dim: dim, M: 4, NBits: 4, Iterations: 2}, data)
		o := &Quantizer{cfg: Config{PQ: p.Config()}, rt: identity(dim), pq: p}
		v := data[:dim]
		table := make([]float32, 0, o.PQ().TableSize())
		code := make([]byte, o.CodeSize())
		rec := make([]float32, dim)
		for name, f := range map[string]func(){
			"LookupTable": func() { table, _ = o.LookupTable(table, v) },
			"Encode":      func() { _ = o.Encode(code, v) },
			"Decode":      func() { _ = o.Decode(rec, code) },
			"Rotate":      func() { o.Rotate(rec, v) },
		} {
			if a := testing.AllocsPerRun(20, f); a != 0 {
				t.Errorf("dim %d: %s allocates %v times per call", dim, name, a)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	if _, err := New(Config{PQ: pq.Config{Dim: 10, M: 3}}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("dim %% M: %v", err)
	}
	if _, err := New(Config{PQ: pq.Config{Dim: 8, M: 2}, Iterations: -1}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("negative iterations: %v", err)
	}
	o, _ := New(Config{PQ: pq.Config{Dim: 8, M: 2, NBits: 4}, Iterations: 2})
	if err := o.Encode(make([]byte, 1), make([]float32, 8)); !errors.Is(err, nearkit.ErrNotTrained) {
		t.Errorf("untrained: %v", err)
	}
	if err := o.Train(context.Background(), pqtest.Uniform(1, 10, 8)); !errors.Is(err, nearkit.ErrEmpty) {
		t.Errorf("few points: %v", err)
	}
	d := pqtest.Uniform(1, 100, 8)
	d[5] = float32(math.NaN())
	if err := o.Train(context.Background(), d); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Errorf("NaN: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Train(ctx, pqtest.Uniform(1, 100, 8)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if o.Trained() || o.Rotation() != nil {
		t.Error("failed training left the quantizer trained")
	}
	// Untrained round trip.
	var buf bytes.Buffer
	_, _ = o.WriteTo(&buf)
	if o2, err := Read(&buf); err != nil || o2.Trained() || o2.Config() != o.Config() {
		t.Errorf("untrained round trip: %v", err)
	}
}

// TestHostileArguments: every checked method answers nil, short and
// non-finite arguments, and use before training, with an error wrapping the
// matching sentinel, never a panic.
func TestHostileArguments(t *testing.T) {
	const dim, n = 8, 600
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = r.Float32()
	}
	o, err := New(Config{PQ: pq.Config{Dim: dim, M: 4, NBits: 4, Seed: 1}, Iterations: 2})
	if err != nil {
		t.Fatal(err)
	}
	code := make([]byte, o.CodeSize())
	v := data[:dim]
	nan := append([]float32{float32(math.NaN())}, v[1:]...)
	expect := func(what string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("%s: %v, want %v", what, err, target)
		}
	}
	expect("Decode untrained", o.Decode(make([]float32, dim), code), nearkit.ErrNotTrained)
	expect("Encode untrained", o.Encode(code, v), nearkit.ErrNotTrained)
	expect("EncodeBatch untrained", o.EncodeBatch(context.Background(), code, v), nearkit.ErrNotTrained)
	_, err = o.LookupTable(nil, v)
	expect("LookupTable untrained", err, nearkit.ErrNotTrained)
	_, err = o.ReconstructionError(v)
	expect("ReconstructionError untrained", err, nearkit.ErrNotTrained)
	expect("Train empty", o.Train(context.Background(), nil), nearkit.ErrEmpty)
	expect("Train ragged", o.Train(context.Background(), data[:dim*300+1]), nearkit.ErrDimension)

	if err := o.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	expect("Encode NaN", o.Encode(code, nan), nearkit.ErrInvalidVector)
	expect("Encode short vector", o.Encode(code, v[:3]), nearkit.ErrDimension)
	expect("Encode short code", o.Encode(code[:1], v), nearkit.ErrDimension)
	expect("Encode nil code", o.Encode(nil, v), nearkit.ErrDimension)
	expect("EncodeBatch NaN", o.EncodeBatch(context.Background(), code, nan), nearkit.ErrInvalidVector)
	expect("EncodeBatch short codes", o.EncodeBatch(context.Background(), code, data[:2*dim]), nearkit.ErrDimension)
	expect("Decode nil dst", o.Decode(nil, code), nearkit.ErrDimension)
	expect("Decode short dst", o.Decode(make([]float32, dim-1), code), nearkit.ErrDimension)
	expect("Decode short code", o.Decode(make([]float32, dim), code[:1]), nearkit.ErrDimension)
	_, err = o.LookupTable(nil, nan)
	expect("LookupTable NaN", err, nearkit.ErrInvalidVector)
	_, err = o.LookupTable(nil, v[:2])
	expect("LookupTable short query", err, nearkit.ErrDimension)
	_, err = o.ReconstructionError(data[:dim+1])
	expect("ReconstructionError ragged", err, nearkit.ErrDimension)
}

// TestReadHostileStreams: truncations and bit flips of saved quantizers,
// trained and untrained, in both format versions, are refused within the
// allocation budget.
func TestReadHostileStreams(t *testing.T) {
	const dim, n = 8, 600
	o := trained(t, Config{PQ: pq.Config{Dim: dim, M: 2, NBits: 4, Seed: 1}, Iterations: 2}, pqtest.Uniform(6, n, dim))
	u, _ := New(Config{PQ: pq.Config{Dim: dim, M: 2}})
	var ob, ub bytes.Buffer
	o.WriteTo(&ob)
	u.WriteTo(&ub)
	v1, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	// binfmt reads in pieces of up to 1Mi elements: a forged count costs
	// at most one piece beyond the bytes read.
	b := attack.Budget{PerByte: 4, Fixed: 10 << 20}
	read := func(r io.Reader) error { _, err := Read(r); return err }
	for _, s := range [][]byte{ob.Bytes(), ub.Bytes(), v1} {
		attack.Stream(t, read, s, b, 150, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
	}
}

func FuzzRead(f *testing.F) {
	o, _ := New(Config{PQ: pq.Config{Dim: 4, M: 2, NBits: 4, Iterations: 2}, Iterations: 1, FirstPQIterations: 2})
	_ = o.Train(context.Background(), pqtest.Uniform(2, 64, 4))
	var buf bytes.Buffer
	_, _ = o.WriteTo(&buf)
	f.Add(buf.Bytes())
	if v1, err := os.ReadFile(goldenV1); err == nil {
		f.Add(v1)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatal(err)
			}
			return
		}
		if o.Trained() {
			if err := o.Encode(make([]byte, o.CodeSize()), make([]float32, o.Dim())); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestFashionMNIST compares PQ and OPQ reconstruction error on
// Fashion-MNIST (784-d, M=16 × 8 bits = 16-byte codes). It takes about a
// minute, so it runs only with NEARKIT_PQ_LONG=1; with -short (as in CI)
// it trains on 5,000 vectors with 5 alternations.
func TestFashionMNIST(t *testing.T) {
	if os.Getenv("NEARKIT_PQ_LONG") == "" {
		t.Skip("set NEARKIT_PQ_LONG=1 to run")
	}
	n, iters, maxTrain := 20000, 10, 10000
	if testing.Short() {
		n, iters, maxTrain = 5000, 5, 5000
	}
	data := pqtest.FashionMNIST(t, n)
	cfg := pq.Config{Dim: 784, M: 16, NBits: 8, Seed: 1}
	p := trainedPQ(t, cfg, data)
	o := trained(t, Config{PQ: cfg, Iterations: iters, MaxTrainPoints: maxTrain}, data)
	pm, _ := p.ReconstructionError(data)
	om, _ := o.ReconstructionError(data)
	t.Logf("fashion-mnist %d×784, M=16 nbits=8: PQ MSE %.6g, OPQ MSE %.6g (%.1f%% lower)", n, pm, om, 100*(1-om/pm))
	if om >= pm {
		t.Errorf("OPQ MSE %v not below PQ MSE %v", om, pm)
	}
}

// TestFAISS compares OPQ (rotation + PQ) reconstruction MSE with
// faiss.OPQMatrix + ProductQuantizer, 20 alternations each (with -short
// on the synthetic set only: FAISS's OPQ on Fashion-MNIST takes minutes),
// and logs plain PQ alongside. See internal/pqtest for how to run it.
func TestFAISS(t *testing.T) {
	pqtest.FAISSAvailable(t)
	const niter = 20
	for _, c := range pqtest.FAISSCases(t) {
		if c.NBits != 8 || (testing.Short() && c.Dim != 64) {
			continue
		}
		n := len(c.Data) / c.Dim
		path := pqtest.WriteF32(t, c.Data)
		f := pqtest.RunFAISS(t, 1, "opq", path, n, c.Dim, c.M, c.NBits, niter)
		cfg := pq.Config{Dim: c.Dim, M: c.M, NBits: c.NBits, Seed: 1}
		o := trained(t, Config{PQ: cfg, Iterations: niter}, c.Data)
		ours, _ := o.ReconstructionError(c.Data)
		plain, _ := trainedPQ(t, cfg, c.Data).ReconstructionError(c.Data)
		theirs := f["mse"].(float64)
		t.Logf("OPQ %s M=%d nbits=%d: FAISS OPQ MSE %.6g, nearkit OPQ MSE %.6g (%+.2f%%), nearkit PQ MSE %.6g",
			c.Name, c.M, c.NBits, theirs, ours, 100*(ours/theirs-1), plain)
		if ours > theirs*1.02 {
			t.Errorf("%s: OPQ MSE %.6g more than 2%% above FAISS's %.6g", c.Name, ours, theirs)
		}
	}
}
