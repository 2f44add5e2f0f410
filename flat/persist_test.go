package flat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, m := range metrics {
		t.Run(m.String(), func(t *testing.T) {
			const n, dim = 500, 19
			ids := randomIDs(rng, n)
			x, _ := build(t, dim, m, ids, floatVectors(rng, n, dim))
			for _, id := range ids[:50] {
				if err := x.Delete(id); err != nil {
					t.Fatal(err)
				}
			}
			var buf bytes.Buffer
			wn, err := x.WriteTo(&buf)
			if err != nil || wn != int64(buf.Len()) {
				t.Fatalf("WriteTo = %d, %v; wrote %d bytes", wn, err, buf.Len())
			}
			path := filepath.Join(t.TempDir(), "idx.flat")
			if err := x.Save(path); err != nil {
				t.Fatal(err)
			}
			y, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if y.Len() != x.Len() || y.Dim() != dim || y.Metric() != m {
				t.Fatalf("loaded Len %d Dim %d Metric %v", y.Len(), y.Dim(), y.Metric())
			}
			var again bytes.Buffer
			if _, err := y.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
				t.Fatalf("re-encoding differs (%v)", err)
			}
			qs := floatVectors(rng, 10, dim)
			want, err := x.SearchBatch(context.Background(), qs, 15, nearkit.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := y.SearchBatch(context.Background(), qs, 15, nearkit.SearchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("query %d: loaded %v, original %v", i, got[i], want[i])
				}
			}
			// The loaded index is fully usable.
			if err := y.Add(ids[0], qs[:dim]); err != nil {
				t.Fatal(err)
			}
			if err := y.Add(ids[60], qs[:dim]); !errors.Is(err, nearkit.ErrDuplicateID) {
				t.Fatalf("duplicate after load: %v", err)
			}
		})
	}
}

// encode builds a file from raw header fields, for corrupt-input tests.
func encode(dim uint32, metric uint8, count uint64, ids []uint64, vals []float32) []byte {
	var b []byte
	b = append(b, "NKFLAT\x00\x00"...)
	b = binary.LittleEndian.AppendUint32(b, 1)
	b = binary.LittleEndian.AppendUint32(b, dim)
	b = append(b, metric)
	b = binary.LittleEndian.AppendUint64(b, count)
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint64(b, id)
	}
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func TestReadRejects(t *testing.T) {
	good := encode(2, 0, 2, []uint64{1, 2}, []float32{1, 2, 3, 4})
	if x, err := Read(bytes.NewReader(good)); err != nil || x.Len() != 2 {
		t.Fatalf("hand-made file: %v", err)
	}
	nan := float32(0)
	nan = nan / nan
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, nearkit.ErrCorrupt},
		{"other magic", append([]byte("NKHNSW\x00\x00"), good[8:]...), nearkit.ErrIncompatible},
		{"version 2", append(append([]byte("NKFLAT\x00\x00"), 2, 0, 0, 0), good[12:]...), nearkit.ErrIncompatible},
		{"dim 0", encode(0, 0, 0, nil, nil), nearkit.ErrCorrupt},
		{"dim huge", encode(1<<30, 0, 0, nil, nil), nearkit.ErrCorrupt},
		{"metric 7", encode(2, 7, 0, nil, nil), nearkit.ErrCorrupt},
		{"count huge", encode(2, 0, 1<<40, nil, nil), nearkit.ErrCorrupt},
		{"count beyond data", encode(2, 0, 3, []uint64{1, 2}, []float32{1, 2, 3, 4}), nearkit.ErrCorrupt},
		{"duplicate id", encode(2, 0, 2, []uint64{5, 5}, []float32{1, 2, 3, 4}), nearkit.ErrCorrupt},
		{"NaN value", encode(2, 0, 2, []uint64{1, 2}, []float32{1, nan, 3, 4}), nearkit.ErrCorrupt},
		{"bad checksum", append(slices.Clone(good[:len(good)-1]), good[len(good)-1]^1), nearkit.ErrCorrupt},
		{"truncated", good[:len(good)-5], nearkit.ErrCorrupt},
	} {
		if _, err := Read(bytes.NewReader(c.data)); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// Every truncation of a real file is an error.
	x, _ := build(t, 3, distance.Cosine, []uint64{4, 8, 15}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	for i := range buf.Len() {
		if _, err := Read(bytes.NewReader(buf.Bytes()[:i])); !errors.Is(err, nearkit.ErrCorrupt) {
			t.Fatalf("truncated to %d bytes: %v", i, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, m := range metrics {
		for _, n := range []int{0, 1, 5} {
			x, err := New(Config{Dim: 3, Metric: m})
			if err != nil {
				f.Fatal(err)
			}
			for i := range n {
				x.Add(uint64(i*7), floatVectors(rng, 1, 3))
			}
			var buf bytes.Buffer
			x.WriteTo(&buf)
			f.Add(buf.Bytes())
		}
	}
	f.Add(encode(1, 0, 1<<40, nil, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRead(t, data)
		// Also with a valid checksum, so mutations reach the validation
		// of the payload instead of all failing at the trailer.
		if len(data) >= 4 {
			fixed := slices.Clone(data)
			body := fixed[:len(fixed)-4]
			binary.LittleEndian.PutUint32(fixed[len(body):], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
			checkRead(t, fixed)
		}
	})
}

func checkRead(t *testing.T, data []byte) {
	x, err := Read(bytes.NewReader(data))
	if err != nil {
		if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
			t.Fatalf("error wraps neither ErrCorrupt nor ErrIncompatible: %v", err)
		}
		return
	}
	// Whatever decodes must be a consistent index that re-encodes to
	// the bytes it came from.
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > len(data) || !bytes.Equal(buf.Bytes(), data[:buf.Len()]) {
		t.Fatal("re-encoding differs")
	}
	q := make([]float32, x.Dim())
	res, err := x.Search(nil, q, 3, nearkit.SearchOptions{})
	if err != nil || len(res) != min(3, x.Len()) {
		t.Fatalf("search on decoded index: %v, %d results of %d", err, len(res), x.Len())
	}
}
