package flat

import (
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

func hostileIndex(t *testing.T, metric distance.Metric) (*Index, []float32) {
	t.Helper()
	x, err := New(Config{Dim: 8, Metric: metric})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	const n = 100
	ids := make([]uint64, n)
	vecs := make([]float32, n*8)
	for i := range ids {
		ids[i] = math.MaxUint64 - uint64(i)*0x9E3779B97F4A7C15
	}
	for i := range vecs {
		vecs[i] = r.Float32()*2 - 1
	}
	if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
		t.Fatal(err)
	}
	return x, vecs
}

// TestReadHostileStreams: truncations, bit flips, forged counts and
// stored vectors that Add would refuse (with a valid checksum) are
// refused within budget.
func TestReadHostileStreams(t *testing.T) {
	for _, metric := range []distance.Metric{distance.L2, distance.Cosine} {
		x, _ := hostileIndex(t, metric)
		var buf bytes.Buffer
		if _, err := x.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		read := func(r io.Reader) error { _, err := Read(r); return err }
		// Fixed covers one storage chunk (16 MiB), allocated once the header checks out.
		budget := attack.Budget{PerByte: 4, Fixed: 24 << 20}
		attack.Stream(t, read, buf.Bytes(), budget, 150, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
		// The dimension and the vector count, forged with the checksum
		// recomputed.
		fields := []attack.Field{{Name: "dim", At: 12, Width: 4}, {Name: "count", At: 17, Width: 8}}
		attack.Counts(t, read, buf.Bytes(), fields, nil, budget, nearkit.ErrCorrupt)

		// Replace the last vector's first element and recompute the
		// checksum: NaN anywhere, or 5e18 under cosine, is corrupt.
		for _, val := range []float32{float32(math.NaN()), float32(math.Inf(-1)), 5e18} {
			if val == 5e18 && metric != distance.Cosine {
				continue
			}
			b := bytes.Clone(buf.Bytes())
			at := len(b) - 4 - 8*4
			u := math.Float32bits(val)
			b[at], b[at+1], b[at+2], b[at+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			c := crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli))
			b[len(b)-4], b[len(b)-3], b[len(b)-2], b[len(b)-1] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
			if _, err := Read(bytes.NewReader(b)); !errors.Is(err, nearkit.ErrCorrupt) {
				t.Fatalf("%v: stored %v: %v", metric, val, err)
			}
		}
	}
}

// TestHostileArguments: huge k is clamped without a huge allocation, bad
// k and vectors are errors, and an overflowing cosine norm ranks by its
// direction.
func TestHostileArguments(t *testing.T) {
	x, vecs := hostileIndex(t, distance.Cosine)
	for _, k := range []int{101, 1 << 40, math.MaxInt} {
		res := attack.Run(func(io.Reader) error {
			rs, err := x.SearchBatch(context.Background(), vecs[:4*8], k, nearkit.SearchOptions{})
			if err != nil || len(rs) != 4 || len(rs[0]) != 100 {
				return errors.New("SearchBatch wrong")
			}
			one, err := x.Search(nil, vecs[:8], k, nearkit.SearchOptions{})
			if err != nil || len(one) != 100 {
				return errors.New("Search wrong")
			}
			return nil
		}, nil)
		if res.Err != nil || res.Panic != nil || res.Allocated > 16<<20 {
			t.Fatalf("k=%d: %v %v, %d bytes", k, res.Err, res.Panic, res.Allocated)
		}
	}
	for _, k := range []int{0, -1, math.MinInt} {
		if _, err := x.SearchBatch(context.Background(), vecs[:8], k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
			t.Fatalf("k=%d: %v", k, err)
		}
	}
	nan := append([]float32{float32(math.NaN())}, vecs[1:8]...)
	if err := x.Add(1, nan); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Fatalf("NaN: %v", err)
	}
	if _, err := x.Search(nil, nan, 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Fatalf("NaN query: %v", err)
	}
	huge := []float32{-5e18, -5e18, -5e18, -5e18, -5e18, -5e18, -5e18, -5e18}
	if err := x.Add(42, huge); err != nil {
		t.Fatal(err)
	}
	res, err := x.Search(nil, []float32{1, 1, 1, 1, 1, 1, 1, 1}, 1, nearkit.SearchOptions{})
	if err != nil || res[0].ID == 42 {
		t.Fatalf("overflowing norm ranks first: %v %v", res, err)
	}
	if err := x.Delete(7); !errors.Is(err, nearkit.ErrUnknownID) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := x.Search(nil, huge[:3], 1, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Fatalf("short query: %v", err)
	}
}
