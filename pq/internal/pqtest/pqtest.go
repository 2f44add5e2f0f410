// Package pqtest holds what the tests of pq and pq/opq share: synthetic and
// real data sets, float64 reference distances, the corrupt-stream check
// and the FAISS comparison harness (faiss_compare.py beside this file, run
// with the Debian interpreter and python3-faiss). Only tests import it.
package pqtest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"github.com/nearkit/nearkit"
)

// Correlated returns n vectors of dimension dim with strongly correlated
// coordinates: latent Gaussian factors with decaying variances mixed by a
// random dense matrix, plus a little isotropic noise. Each coordinate
// depends on every factor, so splitting the coordinates into PQ subspaces
// is far from independent — the case OPQ is for.
func Correlated(seed uint64, n, dim int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 99))
	nf := dim
	mix := make([]float64, nf*dim)
	for i := range mix {
		mix[i] = rng.NormFloat64() / math.Sqrt(float64(nf))
	}
	scale := make([]float64, nf)
	for f := range nf {
		scale[f] = 4 * math.Pow(0.9, float64(f))
	}
	out := make([]float32, n*dim)
	z := make([]float64, nf)
	for i := range n {
		for f := range nf {
			z[f] = rng.NormFloat64() * scale[f]
		}
		for j := range dim {
			s := rng.NormFloat64() * 0.05
			for f := range nf {
				s += z[f] * mix[f*dim+j]
			}
			out[i*dim+j] = float32(s)
		}
	}
	return out
}

// Uniform returns n vectors of uniform random coordinates in [-1, 1).
func Uniform(seed uint64, n, dim int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n*dim)
	for i := range out {
		out[i] = float32(rng.Float64()*2 - 1)
	}
	return out
}

const fashionTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

// FashionMNIST reads the first n images of the Fashion-MNIST training set
// (IDX format: magic 0x00000803, count, rows, cols, then uint8 pixels) as
// 784-d float32 vectors, or skips the test when the file is absent.
func FashionMNIST(t testing.TB, n int) []float32 {
	t.Helper()
	f, err := os.Open(fashionTrain)
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [4]uint32
	if err := binary.Read(zr, binary.BigEndian, &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x803 || hdr[2]*hdr[3] != 784 {
		t.Fatalf("unexpected IDX header %v", hdr)
	}
	n = min(n, int(hdr[1]))
	px := make([]byte, n*784)
	if _, err := io.ReadFull(zr, px); err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(px))
	for i, p := range px {
		out[i] = float32(p)
	}
	return out
}

// SquaredL2 is a float64 reference squared Euclidean distance.
func SquaredL2(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

// CheckCorruption fails t unless read refuses truncations and byte flips
// of the valid stream with an error wrapping nearkit.ErrCorrupt or
// nearkit.ErrIncompatible.
func CheckCorruption(t *testing.T, valid []byte, read func(*bytes.Reader) error) {
	t.Helper()
	for _, cut := range []int{0, 3, 8, 12, 20, len(valid) / 2, len(valid) - 1} {
		if err := read(bytes.NewReader(valid[:cut])); !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
			t.Fatalf("truncated at %d: err=%v", cut, err)
		}
	}
	step := max(1, len(valid)/200)
	for i := 0; i < len(valid); i += step {
		c := bytes.Clone(valid)
		c[i] ^= 0x5a
		if err := read(bytes.NewReader(c)); !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
			t.Fatalf("byte %d flipped: err=%v", i, err)
		}
	}
}

// The FAISS comparisons run faiss_compare.py with the Debian interpreter
// (python3-faiss) on data written by the test, so both sides see identical
// vectors, log the numbers side by side and assert the criteria. They run
// only with NEARKIT_PQ_FAISS=1. At the reference sizes they take 15
// minutes, nearly all of it in FAISS; with -short they run on smaller sets
// in about a minute, which is what CI does:
//
//	NEARKIT_PQ_FAISS=1 go test -run FAISS -v -timeout 1h ./pq/...
//	NEARKIT_PQ_FAISS=1 go test -short -run FAISS -v ./pq/...
//
// Debian's python3-faiss links libblas.so.3, which is the slow reference
// (Netlib) BLAS unless OpenBLAS is installed; FAISS's k-means is a BLAS
// sgemm, so for a fair timing point LD_LIBRARY_PATH at an OpenBLAS
// libblas.so.3 (the Go test binary is static and ignores it), e.g. the
// openblas-pthread directory of an unpacked libopenblas0-pthread package.

const python = "/usr/bin/python3"

// FAISSAvailable skips t unless NEARKIT_PQ_FAISS is set and the Debian
// interpreter imports faiss.
func FAISSAvailable(t *testing.T) {
	t.Helper()
	if os.Getenv("NEARKIT_PQ_FAISS") == "" {
		t.Skip("set NEARKIT_PQ_FAISS=1 to compare with FAISS")
	}
	if err := exec.Command(python, "-c", "import faiss").Run(); err != nil {
		t.Skipf("python3-faiss not available: %v", err)
	}
}

// WriteF32 writes data as raw float32 in memory order (little-endian on
// every architecture nearkit supports, as faiss_compare.py reads it) to a
// file in t's temporary directory and returns its path.
func WriteF32(t *testing.T, data []float32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.f32")
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RunFAISS runs faiss_compare.py with args on threads threads and returns
// the JSON object it prints.
func RunFAISS(t *testing.T, threads int, args ...any) map[string]any {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate faiss_compare.py")
	}
	sargs := []string{filepath.Join(filepath.Dir(self), "faiss_compare.py")}
	for _, a := range args {
		sargs = append(sargs, fmt.Sprint(a))
	}
	cmd := exec.Command(python, sargs...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads), "OPENBLAS_NUM_THREADS="+strconv.Itoa(threads))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("faiss_compare.py %v: %v", args, err)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("faiss_compare.py output %q: %v", out, err)
	}
	return res
}

// FAISSCase is one data set and code shape of the PQ and OPQ comparisons.
type FAISSCase struct {
	Name     string
	Data     []float32
	Dim      int
	M, NBits int
}

// FAISSCases are the PQ and OPQ comparison sets: 20,000 vectors of each
// (5,000 of Fashion-MNIST with -short, none when it is absent).
func FAISSCases(t *testing.T) []FAISSCase {
	syn := Correlated(41, 20000, 64)
	cases := []FAISSCase{
		{"synthetic-correlated-20000x64", syn, 64, 8, 8},
		{"synthetic-correlated-20000x64", syn, 64, 16, 4},
	}
	nf := 20000
	if testing.Short() {
		nf = 5000
	}
	var fm []float32
	if t.Run("fashion", func(t *testing.T) { fm = FashionMNIST(t, nf) }) && fm != nil {
		name := fmt.Sprintf("fashion-mnist-%dx784", nf)
		cases = append(cases,
			FAISSCase{name, fm, 784, 16, 8},
			FAISSCase{name, fm, 784, 28, 4})
	}
	return cases
}
