package ivf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"github.com/nearkit/nearkit"
)

// clone copies x through WriteTo and Read.
func clone(t testing.TB, x *Index) *Index {
	t.Helper()
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestPersistRoundTrip(t *testing.T) {
	data, queries := testData()
	for _, cfg := range []Config{
		{Encoding: Flat},
		{Encoding: SQ8},
		{Encoding: PQ, M: 8, KeepVectors: true, Rerank: 3},
		{Encoding: PQ, M: 8, OPQ: true},
		{Encoding: PQFastScan, M: 16},
		{Encoding: Flat, Coarse: CoarseHNSW},
	} {
		if testing.Short() && (cfg.OPQ || cfg.Coarse == CoarseHNSW) || puregoBuild && cfg.OPQ {
			continue
		}
		cfg.Dim, cfg.NList, cfg.Seed = tDim, 8, 9
		x := build(t, cfg, data[:1000*tDim])
		for id := uint64(0); id < 1000; id += 3 {
			_ = x.Delete(id)
		}
		var buf bytes.Buffer
		if _, err := x.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		y, err := Read(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%v: %v", cfg.Encoding, err)
		}
		if y.Len() != x.Len() || fmt.Sprint(y.Config()) != fmt.Sprint(x.Config()) {
			t.Fatalf("%v: loaded Len %d config %+v", cfg.Encoding, y.Len(), y.Config())
		}
		for i := range 10 {
			q := queries[i*tDim : (i+1)*tDim]
			a, _ := x.Search(nil, q, 10, nearkit.SearchOptions{NProbe: 3})
			b, _ := y.Search(nil, q, 10, nearkit.SearchOptions{NProbe: 3})
			if !slices.Equal(a, b) {
				t.Fatalf("%v: query %d: %v, loaded %v", cfg.Encoding, i, a, b)
			}
		}
		var again bytes.Buffer
		if _, err := y.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), raw) {
			t.Fatalf("%v: re-written bytes differ (%v)", cfg.Encoding, err)
		}
		// Truncations and bit flips are rejected, never panic.
		step := max(1, len(raw)/97)
		for n := 0; n < len(raw); n += step {
			if _, err := Read(bytes.NewReader(raw[:n])); err == nil {
				t.Fatalf("%v: truncation to %d bytes accepted", cfg.Encoding, n)
			}
		}
		for i := 0; i < len(raw); i += step {
			bad := append([]byte(nil), raw...)
			bad[i] ^= 0x10
			if _, err := Read(bytes.NewReader(bad)); err == nil {
				t.Fatalf("%v: bit flip at %d accepted", cfg.Encoding, i)
			}
		}
	}
}

func TestPersistUntrainedAndFiles(t *testing.T) {
	x, _ := New(Config{Dim: 4, NList: 2})
	y := clone(t, x)
	if y.Trained() || y.Len() != 0 {
		t.Fatal("untrained round trip")
	}
	data, _ := testData()
	x = build(t, Config{Dim: tDim, NList: 4}, data[:200*tDim])
	path := filepath.Join(t.TempDir(), "x.ivf")
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	y, err := Load(path)
	if err != nil || y.Len() != 200 {
		t.Fatalf("Load: %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file loaded")
	}
	if _, err := Read(bytes.NewReader([]byte("NKFLAT\x00\x00\x01\x00\x00\x00"))); !errors.Is(err, nearkit.ErrIncompatible) && !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("other magic: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	data, _ := testData()
	for _, cfg := range []Config{{Encoding: Flat}, {Encoding: PQFastScan, M: 8}, {Encoding: SQ8}} {
		cfg.Dim, cfg.NList = tDim, 2
		x, _ := New(quick(cfg))
		_ = x.Train(context.Background(), data[:300*tDim])
		_ = x.AddBatch(context.Background(), seqIDs(40), data[:40*tDim])
		var buf bytes.Buffer
		_, _ = x.WriteTo(&buf)
		f.Add(buf.Bytes())
	}
	q := data[:tDim]
	f.Fuzz(func(t *testing.T, b []byte) {
		// A file that passes the checks must be searchable, whether read
		// or viewed in place.
		if x, err := Read(bytes.NewReader(b)); err == nil {
			if _, err := x.Search(nil, q, 5, nearkit.SearchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if x, err := openView(b, OpenOptions{}); err == nil {
			if _, err := x.Search(nil, q, 5, nearkit.SearchOptions{NProbe: 2}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestVectorFileRerank(t *testing.T) {
	data, queries := testData()
	path := filepath.Join(t.TempDir(), "v.fvecs")
	var buf bytes.Buffer
	for i := range tN {
		row := data[i*tDim : (i+1)*tDim]
		buf.Write([]byte{tDim, 0, 0, 0})
		for _, v := range row {
			b := make([]byte, 4)
			u := math.Float32bits(v)
			b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			buf.Write(b)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	vf, err := OpenVectorFile(path, tDim)
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	if vf.Len() != tN {
		t.Fatalf("rows %d", vf.Len())
	}
	if _, err := OpenVectorFile(path, tDim+1); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("wrong dimension: %v", err)
	}
	x := build(t, Config{Dim: tDim, NList: 16, Encoding: PQFastScan, M: 16}, data)
	x.SetVectors(vf)
	gt := truth(t, 0, tDim, data, queries, 10, nil)
	r := recall(t, x, queries, gt, 10, nearkit.SearchOptions{NProbe: 16, Rerank: 10})
	if r < 0.95 {
		t.Fatalf("recall with mapped vectors %.3f", r)
	}
	res, _ := x.Search(nil, queries[:tDim], 1, nearkit.SearchOptions{NProbe: 16, Rerank: 10})
	if res[0].Distance != gt[0][0].Distance {
		t.Fatalf("re-ranked distance %v, exact %v", res[0].Distance, gt[0][0].Distance)
	}
	dv, _ := NewDenseVectors(data, tDim)
	x.SetVectors(dv)
	if r2 := recall(t, x, queries, gt, 10, nearkit.SearchOptions{NProbe: 16, Rerank: 10}); r2 != r {
		t.Fatalf("dense source recall %.3f, file %.3f", r2, r)
	}
}

func TestOpenMapped(t *testing.T) {
	data, queries := testData()
	for _, cfg := range []Config{
		{Encoding: Flat},
		{Encoding: PQ, M: 8, KeepVectors: true},
		{Encoding: PQFastScan, M: 16},
	} {
		cfg.Dim, cfg.NList = tDim, 8
		n := tN
		if testing.Short() {
			n = 1000
		}
		x := build(t, cfg, data[:n*tDim])
		path := filepath.Join(t.TempDir(), "x.ivf")
		if err := x.Save(path); err != nil {
			t.Fatal(err)
		}
		y, err := Open(path, OpenOptions{VerifyChecksum: true})
		if err != nil {
			t.Fatalf("%v: %v", cfg.Encoding, err)
		}
		for i := range 10 {
			q := queries[i*tDim : (i+1)*tDim]
			opts := nearkit.SearchOptions{NProbe: 3}
			if cfg.KeepVectors {
				opts.Rerank = 4
			}
			a, _ := x.Search(nil, q, 10, opts)
			b, _ := y.Search(nil, q, 10, opts)
			if !slices.Equal(a, b) {
				t.Fatalf("%v: query %d: %v, mapped %v", cfg.Encoding, i, a, b)
			}
		}
		if littleEndian {
			lo := uintptr(unsafe.Pointer(unsafe.SliceData(y.mapping)))
			for i := range y.lists {
				ids := y.lists[i].ids
				if p := uintptr(unsafe.Pointer(unsafe.SliceData(ids))); len(ids) > 0 && (p < lo || p >= lo+uintptr(len(y.mapping))) {
					t.Fatalf("%v: list %d IDs copied to the heap", cfg.Encoding, i)
				}
			}
		}
		if err := y.Add(1<<40, data[:tDim]); !errors.Is(err, nearkit.ErrReadOnly) {
			t.Fatalf("add to mapped: %v", err)
		}
		if err := y.Delete(1); !errors.Is(err, nearkit.ErrReadOnly) {
			t.Fatalf("delete from mapped: %v", err)
		}
		if err := y.Close(); err != nil {
			t.Fatal(err)
		}
		if res, err := y.Search(nil, queries[:tDim], 3, nearkit.SearchOptions{}); err != nil || len(res) != 0 {
			t.Fatalf("search after Close: %v %v", res, err)
		}
		// A flipped bit fails the checksum; a truncated file the structure.
		raw, _ := os.ReadFile(path)
		raw[len(raw)/2] ^= 1
		bad := filepath.Join(t.TempDir(), "bad.ivf")
		os.WriteFile(bad, raw, 0o644)
		if _, err := Open(bad, OpenOptions{VerifyChecksum: true}); !errors.Is(err, nearkit.ErrCorrupt) {
			t.Fatalf("bit flip: %v", err)
		}
		os.WriteFile(bad, raw[:len(raw)-9], 0o644)
		if _, err := Open(bad, OpenOptions{}); err == nil {
			t.Fatal("truncated file opened")
		}
	}
}
