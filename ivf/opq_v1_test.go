package ivf

import (
	"bufio"
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
)

// testdata/ivf-opq-v1.ivf is an IVF-PQ index with an OPQ rotation saved by
// main at commit a7a8744, before OPQ moved from package pq to pq/opq, so
// its embedded codec is an OPQ stream of format version 1. It holds
// opqGoldenData(2, 600, 8) with IDs 0..599, built with Config{Dim: 8,
// NList: 4, Encoding: PQ, M: 4, OPQ: true, Seed: 5};
// testdata/ivf-opq-v1.txt holds "query id distance" lines: the 10 nearest
// of each of opqGoldenData(3, 5, 8) with NProbe 4, as that code found them.

// opqGoldenData is the generator of the golden file's vectors; the
// explicit conversions keep the arithmetic unfused, so the vectors are the
// same on every architecture.
func opqGoldenData(seed uint64, n, dim int) []float32 {
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

func TestLoadOPQVersion1(t *testing.T) {
	const path = "testdata/ivf-opq-v1.ivf"
	want := readOPQGolden(t, "testdata/ivf-opq-v1.txt")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(path, OpenOptions{VerifyChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if x.Len() != 600 || !x.Config().OPQ || x.opq == nil || !x.opq.Trained() {
		t.Fatalf("loaded Len %d, config %+v", x.Len(), x.Config())
	}
	// Rewritten, the codec becomes the current OPQ format; the index
	// must answer the same.
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	qs := opqGoldenData(3, 5, 8)
	for q := range 5 {
		v := qs[q*8 : (q+1)*8]
		got, err := x.Search(nil, v, 10, nearkit.SearchOptions{NProbe: 4})
		if err != nil {
			t.Fatal(err)
		}
		// Kernels sum in another order on other architectures and
		// without assembly, and arm64 fuses multiply-adds: distances,
		// sums of lookup-table terms of the size of ‖q‖² that partly
		// cancel, may differ by a few float32 roundings of those terms,
		// and the order of near-ties with them.
		qq := 0.0
		for _, c := range v {
			qq += float64(c) * float64(c)
		}
		w := want[q]
		if len(got) != len(w) {
			t.Fatalf("query %d: %d results, want %d", q, len(got), len(w))
		}
		for i, r := range got {
			tol := 1e-5 * (1 + qq + math.Abs(float64(w[i].Distance)))
			if math.Abs(float64(r.Distance-w[i].Distance)) > tol {
				t.Fatalf("query %d rank %d: %v, the writing code found %v", q, i, r, w[i])
			}
			if r.ID != w[i].ID && !nearTie(w, i, tol) {
				t.Fatalf("query %d rank %d: id %d, the writing code found %d", q, i, r.ID, w[i].ID)
			}
		}
		for name, z := range map[string]*Index{"rewritten": y, "mapped": m} {
			again, err := z.Search(nil, v, 10, nearkit.SearchOptions{NProbe: 4})
			if err != nil || !equalResults(again, got) {
				t.Fatalf("query %d: %s index %v (%v), loaded %v", q, name, again, err, got)
			}
		}
	}
}

func equalResults(a, b []nearkit.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// nearTie reports whether rank i of w is within tol of a neighbouring rank.
func nearTie(w []nearkit.Result, i int, tol float64) bool {
	return i > 0 && float64(w[i].Distance-w[i-1].Distance) <= 2*tol ||
		i+1 < len(w) && float64(w[i+1].Distance-w[i].Distance) <= 2*tol
}

func readOPQGolden(t *testing.T, path string) [][]nearkit.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]nearkit.Result
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			t.Fatalf("%s: line %q", path, sc.Text())
		}
		q, err1 := strconv.Atoi(fs[0])
		id, err2 := strconv.ParseUint(fs[1], 10, 64)
		d, err3 := strconv.ParseFloat(fs[2], 32)
		if err1 != nil || err2 != nil || err3 != nil || q < 0 || q > len(out) {
			t.Fatalf("%s: line %q", path, sc.Text())
		}
		if q == len(out) {
			out = append(out, nil)
		}
		out[q] = append(out[q], nearkit.Result{ID: id, Distance: float32(d)})
	}
	if err := sc.Err(); err != nil || len(out) != 5 {
		t.Fatalf("%s: %d queries, %v", path, len(out), err)
	}
	return out
}
