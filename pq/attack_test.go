package pq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestHostileArguments: every checked method of PQ answers nil,
// short and non-finite arguments, and use before training, with an error
// wrapping the matching sentinel, never a panic.
func TestHostileArguments(t *testing.T) {
	const dim, n = 8, 600
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = r.Float32()
	}
	p, err := New(Config{Dim: dim, M: 4, NBits: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	code := make([]byte, p.CodeSize())
	v := data[:dim]
	nan := append([]float32{float32(math.NaN())}, v[1:]...)
	expect := func(what string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Fatalf("%s: %v, want %v", what, err, target)
		}
	}
	// Before training.
	expect("PQ.Encode untrained", p.Encode(code, v), nearkit.ErrNotTrained)
	expect("PQ.Decode untrained", p.Decode(make([]float32, dim), code), nearkit.ErrNotTrained)
	_, err = p.SymmetricDistance(code, code)
	expect("PQ.SymmetricDistance untrained", err, nearkit.ErrNotTrained)
	expect("PQ.Train empty", p.Train(context.Background(), nil), nearkit.ErrEmpty)
	expect("PQ.Train NaN", p.Train(context.Background(), nan), nearkit.ErrInvalidVector)

	if err := p.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name   string
		encode func([]byte, []float32) error
		decode func([]float32, []byte) error
	}{{"PQ", p.Encode, p.Decode}} {
		expect(q.name+".Encode NaN", q.encode(code, nan), nearkit.ErrInvalidVector)
		expect(q.name+".Encode short vector", q.encode(code, v[:3]), nearkit.ErrDimension)
		expect(q.name+".Encode short code", q.encode(code[:1], v), nearkit.ErrDimension)
		expect(q.name+".Encode nil code", q.encode(nil, v), nearkit.ErrDimension)
		expect(q.name+".Decode nil dst", q.decode(nil, code), nearkit.ErrDimension)
		expect(q.name+".Decode short dst", q.decode(make([]float32, dim-1), code), nearkit.ErrDimension)
		expect(q.name+".Decode short code", q.decode(make([]float32, dim), code[:1]), nearkit.ErrDimension)
	}
	_, err = p.SymmetricDistance(code, code[:1])
	expect("PQ.SymmetricDistance short", err, nearkit.ErrDimension)
	_, err = p.SymmetricDistance(nil, code)
	expect("PQ.SymmetricDistance nil", err, nearkit.ErrDimension)
	_, err = p.LookupTable(nil, v[:2])
	expect("PQ.LookupTable short query", err, nearkit.ErrDimension)
	_, err = p.ReconstructionError(data[:dim+1])
	expect("PQ.ReconstructionError ragged", err, nearkit.ErrDimension)
}

// TestReadHostileStreams: truncations and bit flips of saved PQ files are refused within the allocation budget.
func TestReadHostileStreams(t *testing.T) {
	const dim, n = 8, 600
	r := rand.New(rand.NewPCG(5, 6))
	data := make([]float32, n*dim)
	for i := range data {
		data[i] = r.Float32()
	}
	p, _ := New(Config{Dim: dim, M: 4, NBits: 8, Seed: 1})
	if err := p.Train(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	var pb bytes.Buffer
	p.WriteTo(&pb)
	// binfmt reads in pieces of up to 1Mi elements: a forged count costs
	// at most one piece beyond the bytes read.
	b := attack.Budget{PerByte: 4, Fixed: 10 << 20}
	readPQ := func(r io.Reader) error { _, err := Read(r); return err }
	attack.Stream(t, readPQ, pb.Bytes(), b, 150, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
	// The sizes that size the centroids and the rotation, forged with the
	// checksum recomputed.
	pqFields := func(at int) []attack.Field {
		return []attack.Field{{Name: "dim", At: at, Width: 4}, {Name: "M", At: at + 4, Width: 4}, {Name: "bits", At: at + 8, Width: 1}}
	}
	attack.Counts(t, readPQ, pb.Bytes(), pqFields(12), nil, b, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
}
