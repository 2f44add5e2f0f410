package opq

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
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
	tried := 0
	for _, s := range [][]byte{ob.Bytes(), ub.Bytes(), v1} {
		tried += attack.Stream(t, read, s, b, 150, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
	}
	// Version 2: a 12-byte header, four u32 and a u8 of configuration,
	// the u64 length of the embedded pq record, then that record, whose
	// own header is followed by its u32 dim and u32 M. Sealing resums the
	// record, then the whole stream, so that only the count lies.
	const recLen, rec = 29, 37
	for _, s := range [][]byte{ob.Bytes(), ub.Bytes()} {
		l := int(binary.LittleEndian.Uint64(s[recLen:]))
		seal := func(bad []byte) {
			attack.Resum(bad[rec : rec+l])
			attack.Resum(bad)
		}
		fields := []attack.Field{{Name: "pq record length", At: recLen, Width: 8}, {Name: "pq dim", At: rec + 12, Width: 4}, {Name: "pq M", At: rec + 16, Width: 4}}
		tried += attack.Counts(t, read, s, fields, seal, b, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
	}
	t.Logf("%d hostile streams", tried)
}

// TestReadNonFinite: a stream with a valid checksum whose rotation holds
// NaN or Inf is refused.
func TestReadNonFinite(t *testing.T) {
	o := trained(t, Config{PQ: pq.Config{Dim: 8, M: 2, NBits: 4, Seed: 1}, Iterations: 2}, pqtest.Uniform(6, 600, 8))
	var buf bytes.Buffer
	o.WriteTo(&buf)
	s := buf.Bytes()
	for _, bits := range []uint32{math.Float32bits(float32(math.NaN())), math.Float32bits(float32(math.Inf(1)))} {
		// The rotation is the last dim² float32 before the checksum.
		for _, at := range []int{len(s) - 4 - 8*8*4, len(s) - 8} {
			bad := bytes.Clone(s)
			binary.LittleEndian.PutUint32(bad[at:], bits)
			attack.Resum(bad)
			if _, err := Read(bytes.NewReader(bad)); !errors.Is(err, nearkit.ErrCorrupt) {
				t.Errorf("rotation entry at %d set to %#x: %v", at, bits, err)
			}
		}
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
