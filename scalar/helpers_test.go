package scalar

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
)

// correlated returns n vectors of dimension dim with strongly correlated
// coordinates: latent Gaussian factors with decaying variances mixed by a
// random dense matrix, plus a little isotropic noise.
func correlated(seed uint64, n, dim int) []float32 {
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

// uniformData returns n vectors of uniform random coordinates in [-1, 1).
func uniformData(seed uint64, n, dim int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n*dim)
	for i := range out {
		out[i] = float32(rng.Float64()*2 - 1)
	}
	return out
}

const fashionTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

// fashionMNIST reads the first n images of the Fashion-MNIST training set
// (IDX format: magic 0x00000803, count, rows, cols, then uint8 pixels) as
// 784-d float32 vectors, or skips the test when the file is absent.
func fashionMNIST(t testing.TB, n int) []float32 {
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

// exactSquaredL2 is a float64 reference.
func exactSquaredL2(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s
}

func exactDot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// topK returns the indices of the k smallest dist(i), ties by index.
func topK(n, k int, dist func(i int) float64) []int {
	idx := make([]int, n)
	d := make([]float64, n)
	for i := range n {
		idx[i], d[i] = i, dist(i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if d[a] < d[b] {
			return -1
		}
		if d[a] > d[b] {
			return 1
		}
		return 0
	})
	return idx[:k]
}

// checkCorruption flips bytes and truncates a valid stream; every variant
// must fail with ErrCorrupt or ErrIncompatible, never panic.
func checkCorruption(t *testing.T, valid []byte, read func(*bytes.Reader) error) {
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
