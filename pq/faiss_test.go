package pq

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/nearkit/nearkit/internal/kmeans"
)

// The FAISS comparisons run pq/testdata/faiss_compare.py with the Debian
// interpreter (python3-faiss) on data written by the test, so both sides
// see identical vectors, log the numbers side by side and assert the
// criteria. They run only with NEARKIT_PQ_FAISS=1. At the reference sizes
// they take 15 minutes, nearly all of it in FAISS; with -short they run on
// smaller sets in about a minute, which is what CI does:
//
//	NEARKIT_PQ_FAISS=1 go test -run FAISS -v -timeout 1h ./pq/
//	NEARKIT_PQ_FAISS=1 go test -short -run FAISS -v ./pq/
//
// Debian's python3-faiss links libblas.so.3, which is the slow reference
// (Netlib) BLAS unless OpenBLAS is installed; FAISS's k-means is a BLAS
// sgemm, so for a fair timing point LD_LIBRARY_PATH at an OpenBLAS
// libblas.so.3 (the Go test binary is static and ignores it), e.g. the
// openblas-pthread directory of an unpacked libopenblas0-pthread package.

const python = "/usr/bin/python3"

func faissAvailable(t *testing.T) {
	t.Helper()
	if os.Getenv("NEARKIT_PQ_FAISS") == "" {
		t.Skip("set NEARKIT_PQ_FAISS=1 to compare with FAISS")
	}
	if err := exec.Command(python, "-c", "import faiss").Run(); err != nil {
		t.Skipf("python3-faiss not available: %v", err)
	}
}

func writeF32(t *testing.T, data []float32) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data.f32")
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*len(data))
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runFAISS(t *testing.T, threads int, args ...any) map[string]any {
	t.Helper()
	sargs := []string{filepath.Join("testdata", "faiss_compare.py")}
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

// clusteredData returns n points around k Gaussian centres in dim
// dimensions, the k-means benchmark's synthetic set.
func clusteredData(seed uint64, n, dim, k int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	centres := make([]float32, k*dim)
	for i := range centres {
		centres[i] = float32(rng.NormFloat64() * 4)
	}
	out := make([]float32, n*dim)
	for i := range n {
		c := rng.IntN(k)
		for j := range dim {
			out[i*dim+j] = centres[c*dim+j] + float32(rng.NormFloat64())
		}
	}
	return out
}

// TestFAISSKMeans: 1,024 centroids on 100,000×128 clustered vectors (256
// on 20,000×64 with -short), 10 iterations, FAISS then nearkit in the same
// run, with 1 and 2 threads. Training must take no longer than FAISS's and
// reach a final objective no more than 1 % above FAISS's. (Debian's FAISS
// is a generic build on reference BLAS, so the time bound has a wide
// margin: nearkit took 0.02× FAISS's time on a loaded machine.)
func TestFAISSKMeans(t *testing.T) {
	faissAvailable(t)
	n, dim, k, clusters, iters := 100000, 128, 1024, 2000, 10
	if testing.Short() {
		n, dim, k, clusters = 20000, 64, 256, 500
	}
	data := clusteredData(1, n, dim, clusters)
	path := writeF32(t, data)
	for _, threads := range []int{1, 2} {
		f := runFAISS(t, threads, "kmeans", path, n, dim, k, iters, 1)
		prev := runtime.GOMAXPROCS(threads)
		start := time.Now()
		res, err := kmeans.Train(context.Background(), data, dim, kmeans.Config{K: k, Iterations: iters, Seed: 1})
		el := time.Since(start).Seconds()
		runtime.GOMAXPROCS(prev)
		if err != nil {
			t.Fatal(err)
		}
		fs := f["seconds"].(float64)
		fobj := f["objective"].([]any)
		theirs, ours := fobj[len(fobj)-1].(float64), res.Objective[len(res.Objective)-1]
		t.Logf("kmeans %d×%d k=%d iters=%d threads=%d: FAISS %.2fs (final objective %.6g), nearkit %.2fs (final objective %.6g); time ratio nearkit/FAISS = %.2f",
			n, dim, k, iters, threads, fs, theirs, el, ours, el/fs)
		if ours > 1.01*theirs {
			t.Errorf("threads=%d: final objective %.6g more than 1%% above FAISS's %.6g", threads, ours, theirs)
		}
		if el > fs {
			t.Errorf("threads=%d: training took %.2fs, FAISS %.2fs", threads, el, fs)
		}
	}
}

type faissCase struct {
	name     string
	data     []float32
	dim      int
	m, nbits int
}

// faissCases are the PQ and OPQ comparison sets: 20,000 vectors of each
// (5,000 of Fashion-MNIST with -short).
func faissCases(t *testing.T) []faissCase {
	syn := correlated(41, 20000, 64)
	cases := []faissCase{
		{"synthetic-correlated-20000x64", syn, 64, 8, 8},
		{"synthetic-correlated-20000x64", syn, 64, 16, 4},
	}
	nf := 20000
	if testing.Short() {
		nf = 5000
	}
	var fm []float32
	if t.Run("fashion", func(t *testing.T) { fm = fashionMNIST(t, nf) }) && fm != nil {
		name := fmt.Sprintf("fashion-mnist-%dx784", nf)
		cases = append(cases,
			faissCase{name, fm, 784, 16, 8},
			faissCase{name, fm, 784, 28, 4})
	}
	return cases
}

// TestFAISSPQ compares reconstruction MSE with faiss.ProductQuantizer at
// the same M/nbits on the same data: ours must be within 2 % of FAISS's.
func TestFAISSPQ(t *testing.T) {
	faissAvailable(t)
	for _, c := range faissCases(t) {
		n := len(c.data) / c.dim
		path := writeF32(t, c.data)
		f := runFAISS(t, 1, "pq", path, n, c.dim, c.m, c.nbits)
		p := trainedPQ(t, Config{Dim: c.dim, M: c.m, NBits: c.nbits, Seed: 1}, c.data)
		ours, _ := p.ReconstructionError(c.data)
		theirs := f["mse"].(float64)
		t.Logf("PQ %s M=%d nbits=%d: FAISS MSE %.6g, nearkit MSE %.6g (%+.2f%%)", c.name, c.m, c.nbits, theirs, ours, 100*(ours/theirs-1))
		if ours > theirs*1.02 {
			t.Errorf("%s M=%d nbits=%d: MSE %.6g more than 2%% above FAISS's %.6g", c.name, c.m, c.nbits, ours, theirs)
		}
	}
}

// TestFAISSOPQ compares OPQ (rotation + PQ) reconstruction MSE with
// faiss.OPQMatrix + ProductQuantizer, 20 alternations each (with -short
// on the synthetic set only: FAISS's OPQ on Fashion-MNIST takes minutes),
// and logs plain PQ alongside.
func TestFAISSOPQ(t *testing.T) {
	faissAvailable(t)
	const niter = 20
	for _, c := range faissCases(t) {
		if c.nbits != 8 || (testing.Short() && c.dim != 64) {
			continue
		}
		n := len(c.data) / c.dim
		path := writeF32(t, c.data)
		f := runFAISS(t, 1, "opq", path, n, c.dim, c.m, c.nbits, niter)
		o, _ := NewOPQ(OPQConfig{PQ: Config{Dim: c.dim, M: c.m, NBits: c.nbits, Seed: 1}, Iterations: niter})
		if err := o.Train(context.Background(), c.data); err != nil {
			t.Fatal(err)
		}
		ours, _ := o.ReconstructionError(c.data)
		p := trainedPQ(t, Config{Dim: c.dim, M: c.m, NBits: c.nbits, Seed: 1}, c.data)
		plain, _ := p.ReconstructionError(c.data)
		theirs := f["mse"].(float64)
		t.Logf("OPQ %s M=%d nbits=%d: FAISS OPQ MSE %.6g, nearkit OPQ MSE %.6g (%+.2f%%), nearkit PQ MSE %.6g",
			c.name, c.m, c.nbits, theirs, ours, 100*(ours/theirs-1), plain)
		if ours > theirs*1.02 {
			t.Errorf("%s: OPQ MSE %.6g more than 2%% above FAISS's %.6g", c.name, ours, theirs)
		}
	}
}
