package opq

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nearkit/nearkit/pq"
)

// goldenV1 is a quantizer written in format version 1 by pq.OPQ.WriteTo,
// before OPQ moved to this package (main at commit a7a8744), from
// goldenData(1, 500, 8) with the configuration goldenConfig;
// testdata/opq-v1.txt holds what that code reported for it: the
// reconstruction MSE on the training data and the codes of its first 16
// vectors.
const goldenV1 = "testdata/opq-v1.nkopq"

var goldenConfig = Config{
	PQ:                pq.Config{Dim: 8, M: 2, NBits: 4, Seed: 3, Iterations: 10, MaxPointsPerCentroid: 256},
	Iterations:        4,
	PQIterations:      4,
	FirstPQIterations: 10,
	MaxTrainPoints:    256 * 256,
	RandomInit:        true,
}

// goldenData is the generator the golden file's data came from: n vectors
// whose coordinates share one Gaussian factor with weights 1, 2, 3 (so a
// rotation helps), plus unit noise. The explicit conversions keep the
// arithmetic unfused, so the vectors are the same on every architecture.
func goldenData(seed uint64, n, dim int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 0x676f6c64))
	out := make([]float32, n*dim)
	for i := range n {
		z := rng.NormFloat64() * 3
		for j := range dim {
			out[i*dim+j] = float32(float64(z*float64(1+j%3)) + rng.NormFloat64())
		}
	}
	return out
}

// TestReadVersion1 loads the version-1 golden file and checks it encodes
// as the code that wrote it did, and that a version-2 rewrite of it reads
// back identical.
func TestReadVersion1(t *testing.T) {
	raw, err := os.ReadFile(goldenV1)
	if err != nil {
		t.Fatal(err)
	}
	o, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Trained() || o.Config() != goldenConfig {
		t.Fatalf("trained %v, config %+v, want %+v", o.Trained(), o.Config(), goldenConfig)
	}
	wantMSE, wantCodes := readGoldenReport(t, "testdata/opq-v1.txt")
	data := goldenData(1, 500, 8)
	mse, err := o.ReconstructionError(data)
	if err != nil {
		t.Fatal(err)
	}
	// Kernels sum in a different order on other architectures and
	// without assembly, so the MSE may differ in its last bits there.
	if math.Abs(mse-wantMSE) > 1e-6*wantMSE {
		t.Errorf("MSE %v, the writing code reported %v", mse, wantMSE)
	}
	code := make([]byte, o.CodeSize())
	for i, want := range wantCodes {
		if err := o.Encode(code, data[i*8:(i+1)*8]); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(code) != want {
			t.Errorf("vector %d: code %x, the writing code gave %s", i, code, want)
		}
	}

	var v2 bytes.Buffer
	if _, err := o.WriteTo(&v2); err != nil {
		t.Fatal(err)
	}
	o2, err := Read(bytes.NewReader(v2.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if o2.Config() != o.Config() || !equalFloats(o2.Rotation(), o.Rotation()) || !equalFloats(o2.PQ().Centroids(), o.PQ().Centroids()) {
		t.Error("version-2 rewrite of the version-1 file reads back different")
	}
	var again bytes.Buffer
	if _, err := o2.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), v2.Bytes()) {
		t.Errorf("rewriting the version-2 stream changed it (%v)", err)
	}
}

func equalFloats(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// readGoldenReport parses "mse V" and "code I HEX" lines.
func readGoldenReport(t *testing.T, path string) (mse float64, codes []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		switch {
		case len(fs) == 2 && fs[0] == "mse":
			if mse, err = strconv.ParseFloat(fs[1], 64); err != nil {
				t.Fatal(err)
			}
		case len(fs) == 3 && fs[0] == "code" && fs[1] == strconv.Itoa(len(codes)):
			codes = append(codes, fs[2])
		default:
			t.Fatalf("%s: unexpected line %q", path, sc.Text())
		}
	}
	if err := sc.Err(); err != nil || mse == 0 || len(codes) == 0 {
		t.Fatalf("%s: mse %v, %d codes, %v", path, mse, len(codes), err)
	}
	return mse, codes
}
