package hnsw

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// churned builds an index that has been through deletes, a Vacuum (free
// slots), re-adds into reclaimed slots, updates and fresh tombstones, so
// every kind of slot is in the file. A quantized index of fewer than
// TrainSize vectors is trained on them first, so its codes are in the
// file too.
func churned(t testing.TB, cfg Config, n int) (*Index, []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(51, uint64(cfg.Metric)))
	data := clustered(rng, 2*n, cfg.Dim)
	dim := cfg.Dim
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)*3 + 1
	}
	x, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quantization != NoQuantization && n < TrainSize {
		if err := x.Train(context.Background(), data[:n*dim]); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.AddBatch(context.Background(), ids, data[:n*dim]); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 4 {
		x.Delete(uint64(i)*3 + 1)
	}
	if _, err := x.Vacuum(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := n; i < n+n/8; i++ {
		if err := x.Add(uint64(i)*3+1, data[i*dim:(i+1)*dim]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i < n; i += 9 {
		if i%4 == 0 {
			continue // deleted above
		}
		if err := x.Update(uint64(i)*3+1, data[(n+n/8+i/9)*dim:][:dim]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 2; i < n; i += 50 {
		x.Delete(uint64(i)*3 + 1)
	}
	if len(x.life.free) == 0 || x.ndeleted.Load() == 0 {
		t.Fatalf("test index has %d free slots and %d tombstones, want some of both", len(x.life.free), x.ndeleted.Load())
	}
	return x, data
}

func sameResults(t *testing.T, what string, a, b *Index, queries []float32, k int, opts nearkit.SearchOptions) {
	t.Helper()
	dim := a.Dim()
	for i := range len(queries) / dim {
		q := queries[i*dim : (i+1)*dim]
		ra, err := a.Search(nil, q, k, opts)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Search(nil, q, k, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ra, rb) {
			t.Fatalf("%s: query %d: %v vs %v", what, i, ra, rb)
		}
	}
}

func fileBytes(t *testing.T, x *Index) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Save, Load, ReadFrom and Open all give back the same index: the same
// results for every query, the same bytes when written again, and the same
// behaviour for further changes.
func TestRoundTripAfterChurn(t *testing.T) {
	n, dim := scaled(2000), 24
	for _, m := range []distance.Metric{distance.L2, distance.InnerProduct, distance.Cosine} {
		t.Run(m.String(), func(t *testing.T) {
			x, data := churned(t, Config{Dim: dim, Metric: m, M: 10, EfSearch: 40, Seed: 9}, n)
			queries := data[len(data)-100*dim:]
			path := filepath.Join(t.TempDir(), "idx.hnsw")
			if err := x.Save(path); err != nil {
				t.Fatal(err)
			}
			orig := fileBytes(t, x)
			y, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var z Index
			if nr, err := z.ReadFrom(bytes.NewReader(orig)); err != nil || nr != int64(len(orig)) {
				t.Fatalf("ReadFrom: %d of %d bytes, %v", nr, len(orig), err)
			}
			if _, err := z.ReadFrom(bytes.NewReader(orig)); !errors.Is(err, nearkit.ErrInvalidConfig) {
				t.Fatalf("ReadFrom into a used index: %v", err)
			}
			mm, err := Open(path, OpenOptions{VerifyChecksum: true})
			if err != nil {
				t.Fatal(err)
			}
			defer mm.Close()
			for name, o := range map[string]*Index{"Load": y, "ReadFrom": &z, "Open": mm} {
				if o.Len() != x.Len() || o.Config() != x.Config() || o.ndeleted.Load() != x.ndeleted.Load() || !slices.Equal(o.life.free, x.life.free) {
					t.Fatalf("%s: Len %d/%d, config %+v/%+v, tombstones %d/%d, free %d/%d", name, o.Len(), x.Len(),
						o.Config(), x.Config(), o.ndeleted.Load(), x.ndeleted.Load(), len(o.life.free), len(x.life.free))
				}
				sameResults(t, name, x, o, queries, 10, nearkit.SearchOptions{})
				if !bytes.Equal(fileBytes(t, o), orig) {
					t.Fatalf("%s: written again, the bytes differ", name)
				}
			}
			// The loaded copy goes on like the original: the level generator
			// and the free list were saved.
			for _, o := range []*Index{x, y} {
				for i := range 40 {
					if err := o.Add(uint64(1e7+i), data[(n+i)*dim:][:dim]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if !bytes.Equal(fileBytes(t, x), fileBytes(t, y)) {
				t.Fatal("original and loaded index diverge after further adds")
			}
		})
	}
}

func TestOpenReadOnly(t *testing.T) {
	n, dim := scaled(1500), 16
	x, data := churned(t, Config{Dim: dim, M: 8, Seed: 4}, n)
	path := filepath.Join(t.TempDir(), "idx.hnsw")
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	mm, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Big-endian hosts load a copy instead of mapping (Open's doc).
	if st, _ := os.Stat(path); hostLittleEndian && mm.MappedBytes() != st.Size() || x.MappedBytes() != 0 {
		t.Fatalf("MappedBytes %d, file %d bytes; in memory %d", mm.MappedBytes(), st.Size(), x.MappedBytes())
	}
	v := data[:dim]
	for what, err := range map[string]error{
		"Add":      mm.Add(1e9, v),
		"AddBatch": mm.AddBatch(context.Background(), []uint64{1e9}, v),
		"Delete":   mm.Delete(4),
		"Update":   mm.Update(4, v),
		"Upsert":   mm.Upsert(1e9, v),
		"Vacuum":   func() error { _, err := mm.Vacuum(context.Background()); return err }(),
	} {
		if !errors.Is(err, nearkit.ErrReadOnly) {
			t.Errorf("%s on a mapped index: %v, want ErrReadOnly", what, err)
		}
	}
	// Saving over the mapped file is safe: the mapping keeps the old file.
	x.Delete(4)
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	y, _ := Load(path)
	if y.Len() != mm.Len()-1 {
		t.Fatalf("Len: new file %d, mapped %d", y.Len(), mm.Len())
	}
	res, err := mm.Search(nil, data[3*dim:4*dim], 10, nearkit.SearchOptions{})
	if err != nil || len(res) != 10 {
		t.Fatalf("search of the old mapping: %v, %v", res, err)
	}
	// Close while searching: every search either succeeds or reports
	// ErrClosed.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				_, err := mm.Search(nil, data[((i*3+w)%n)*dim:][:dim], 10, nearkit.SearchOptions{})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	mm.Search(nil, v, 1, nearkit.SearchOptions{})
	if err := mm.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := mm.Search(nil, v, 1, nearkit.SearchOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("search after Close: %v", err)
	}
	if _, err := mm.WriteTo(&nullWriter{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	if !hostLittleEndian {
		t.Skip("big-endian hosts load a copy instead of mapping (Open's doc); the decoder tested here is not used")
	}
	n, dim := scaled(400), 8
	x, _ := churned(t, Config{Dim: dim, M: 4}, n)
	good := fileBytes(t, x)
	dir := t.TempDir()
	open := func(b []byte, opts OpenOptions) error {
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		y, err := Open(p, opts)
		if err == nil {
			y.Close()
		}
		return err
	}
	if err := open(good, OpenOptions{}); err != nil {
		t.Fatal(err)
	}
	isData := func(err error) bool {
		return errors.Is(err, nearkit.ErrCorrupt) || errors.Is(err, nearkit.ErrIncompatible)
	}
	for _, cut := range []int{0, 5, 40, len(good) / 2, len(good) - 1} {
		if err := open(good[:cut], OpenOptions{}); !isData(err) {
			t.Errorf("truncated at %d: %v", cut, err)
		}
	}
	if err := open(append(slices.Clone(good), 0), OpenOptions{}); !isData(err) {
		t.Errorf("trailing byte: %v", err)
	}
	// A flipped vector byte is found only by the checksum (vectors are not
	// read at open); a flipped link is found either way.
	v0 := x.vecOf(x.dir.Load(), 0)
	at := bytes.Index(good, unsafe.Slice((*byte)(unsafe.Pointer(&v0[0])), 4*dim))
	if at < 0 {
		t.Fatal("vector of slot 0 not in the file")
	}
	bad := slices.Clone(good)
	bad[at] ^= 0x01
	if err := open(bad, OpenOptions{}); err != nil {
		t.Errorf("flipped vector bit without VerifyChecksum: %v", err)
	}
	if err := open(bad, OpenOptions{VerifyChecksum: true}); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Errorf("flipped vector bit with VerifyChecksum: %v", err)
	}
	// Slot 0's level-0 link count, out of range.
	l0 := x.list(x.dir.Load(), 0, 0)
	at = bytes.Index(good, unsafe.Slice((*byte)(unsafe.Pointer(&l0[0])), 4*len(l0)))
	if at < 0 {
		t.Fatal("links of slot 0 not in the file")
	}
	bad = slices.Clone(good)
	bad[at+1] = 0xff
	if err := open(bad, OpenOptions{}); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Errorf("bad link without VerifyChecksum: %v", err)
	}
	if err := open([]byte("not an index at all, really not"), OpenOptions{}); !errors.Is(err, nearkit.ErrIncompatible) {
		t.Errorf("foreign file: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), OpenOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// A Save that fails leaves the previous file in place.
func TestSaveKeepsOldFileOnError(t *testing.T) {
	x, _ := churned(t, Config{Dim: 8, M: 4}, scaled(300))
	path := filepath.Join(t.TempDir(), "idx.hnsw")
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	x.Close()
	if err := x.Save(path); !errors.Is(err, ErrClosed) {
		t.Fatalf("Save of a closed index: %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Fatal("a failed Save changed the file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("a failed Save left %d files", len(entries))
	}
}

// alignedCopy returns b in 8-byte-aligned memory, as a mapping would be.
func alignedCopy(b []byte) []byte {
	w := make([]uint64, (len(b)+7)/8)
	out := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), len(w)*8)[:len(b)]
	copy(out, b)
	return out
}

// FuzzReadFrom: no input may panic ReadFrom or the in-place decoder of
// Open (which does not verify the checksum by default), or leave an index
// whose search panics.
func FuzzReadFrom(f *testing.F) {
	x, _ := churned(f, Config{Dim: 4, M: 2, Seed: 1}, 64)
	var buf bytes.Buffer
	x.WriteTo(&buf)
	f.Add(buf.Bytes())
	empty, _ := New(Config{Dim: 3})
	buf.Reset()
	empty.WriteTo(&buf)
	f.Add(buf.Bytes())
	q := []float32{1, 2, 3, 4}
	f.Fuzz(func(t *testing.T, b []byte) {
		var y Index
		if _, err := y.ReadFrom(bytes.NewReader(b)); err == nil {
			if _, err := y.Search(nil, q[:y.Dim()%5], 3, nearkit.SearchOptions{}); err != nil && !errors.Is(err, nearkit.ErrDimension) {
				t.Fatal(err)
			}
		}
		z, err := openMapped(alignedCopy(b), OpenOptions{})
		if err == nil {
			z.Search(nil, q[:z.Dim()%5], 3, nearkit.SearchOptions{})
		}
	})
}

// An SQ8 index keeps its codec and codes through Save, Load and Open.
func TestRoundTripSQ8(t *testing.T) {
	n, dim := scaled(2000), 32
	x, data := churned(t, Config{Dim: dim, M: 8, Seed: 6, Quantization: SQ8}, n)
	if !x.Trained() {
		t.Fatal("not trained")
	}
	path := filepath.Join(t.TempDir(), "sq8.hnsw")
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	y, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mm.Close()
	queries := data[len(data)-50*dim:]
	for name, o := range map[string]*Index{"Load": y, "Open": mm} {
		if o.Config() != x.Config() || !o.Trained() {
			t.Fatalf("%s: config %+v, trained %v", name, o.Config(), o.Trained())
		}
		sameResults(t, name, x, o, queries, 10, nearkit.SearchOptions{Ef: 40})
	}
	// An untrained SQ8 index round-trips too, and can be trained after.
	u, _ := New(Config{Dim: dim, Quantization: SQ8})
	var buf bytes.Buffer
	if _, err := u.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	v, err := Read(&buf)
	if err != nil || v.Trained() {
		t.Fatalf("untrained SQ8 index: %v, trained %v", err, v.Trained())
	}
	if err := v.Train(context.Background(), data[:200*dim]); err != nil {
		t.Fatal(err)
	}
}

// v1File is a version-1 file (written by the code of commit 0bec1d0): 24
// vectors (ID 100+i: i%5, i/5, i%3, 1), dim 4, M=2, seed 7, ID 105
// deleted.
const v1File = "TktITlNXAAABAAAABAAAAAACAAAAyAAAAEAAAAAHAAAAAAAAABQAAAAAAAAAcGNnOt5De0eX" +
	"wkzlikiuMxJJmE0YAAAAAAAAABMAAAADAAAAZAAAAAAAAABlAAAAAAAAAGYAAAAAAAAAZwAA" +
	"AAAAAABoAAAAAAAAAGkAAAAAAAAAagAAAAAAAABrAAAAAAAAAGwAAAAAAAAAbQAAAAAAAABu" +
	"AAAAAAAAAG8AAAAAAAAAcAAAAAAAAABxAAAAAAAAAHIAAAAAAAAAcwAAAAAAAAB0AAAAAAAA" +
	"AHUAAAAAAAAAdgAAAAAAAAB3AAAAAAAAAHgAAAAAAAAAeQAAAAAAAAB6AAAAAAAAAHsAAAAA" +
	"AAAAAQAAAAEAAAAAAAAAAQAAAAAAAAAAAQAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAAAA" +
	"AAEAAAACAAAAAAAAAAEAAAABAAAAAAAAAAMAAAAAAAAAAwAAAAAAAAAAAAAAAAAAAAAAAAAA" +
	"AAAAAACAPwAAgD8AAAAAAACAPwAAgD8AAABAAAAAAAAAAEAAAIA/AABAQAAAAAAAAAAAAACA" +
	"PwAAgEAAAAAAAACAPwAAgD8AAAAAAACAPwAAAEAAAIA/AACAPwAAgD8AAAAAAACAPwAAAEAA" +
	"AIA/AACAPwAAgD8AAEBAAACAPwAAAEAAAIA/AACAQAAAgD8AAAAAAACAPwAAAAAAAABAAACA" +
	"PwAAgD8AAIA/AAAAQAAAAEAAAIA/AAAAQAAAAEAAAAAAAACAPwAAQEAAAABAAACAPwAAgD8A" +
	"AIBAAAAAQAAAAEAAAIA/AAAAAAAAQEAAAAAAAACAPwAAgD8AAEBAAACAPwAAgD8AAABAAABA" +
	"QAAAAEAAAIA/AABAQAAAQEAAAAAAAACAPwAAgEAAAEBAAACAPwAAgD8AAAAAAACAQAAAAEAA" +
	"AIA/AACAPwAAgEAAAAAAAACAPwAAAEAAAIBAAACAPwAAgD8AAEBAAACAQAAAAEAAAIA/AgAA" +
	"AAEAAAAGAAAAAAAAAAAAAAAEAAAAAAAAAAIAAAAGAAAABwAAAAQAAAABAAAABAAAAAcAAAAI" +
	"AAAAAwAAAAEAAAAEAAAACQAAAAAAAAADAAAAAwAAAAIAAAAJAAAAAAAAAAEAAAABAAAAAAAA" +
	"AAAAAAAAAAAABAAAAAAAAAABAAAACgAAAAwAAAAEAAAAAQAAAAIAAAAIAAAADAAAAAQAAAAC" +
	"AAAABwAAAA0AAAAOAAAAAgAAAAMAAAAEAAAAAAAAAAAAAAAEAAAABgAAAAsAAAAPAAAAEAAA" +
	"AAQAAAAKAAAABwAAABAAAAARAAAABAAAAAYAAAAHAAAADwAAABIAAAAEAAAABwAAAAgAAAAO" +
	"AAAAEgAAAAMAAAAIAAAADQAAABMAAAAAAAAAAwAAAAoAAAAMAAAAFQAAAAAAAAAEAAAACgAA" +
	"AAsAAAARAAAAFQAAAAQAAAALAAAAEAAAABYAAAAXAAAAAgAAAAwAAAANAAAAAAAAAAAAAAAC" +
	"AAAADQAAAA4AAAAAAAAAAAAAAAEAAAAQAAAAAAAAAAAAAAAAAAAAAgAAAA8AAAAQAAAAAAAA" +
	"AAAAAAADAAAAEAAAABEAAAAXAAAAAAAAAAIAAAARAAAAFgAAAAAAAAAAAAAALQAAAAAAAAAB" +
	"AAAAAQAAAAAAAAACAAAAAAAAAAMAAAACAAAAAQAAAAgAAAACAAAADQAAAA4AAAACAAAACAAA" +
	"AA4AAAACAAAACAAAAA0AAAABAAAAEwAAAAAAAAABAAAADQAAAAAAAAABAAAADQAAAAAAAAAC" +
	"AAAADQAAAA4AAAACAAAADgAAABUAAAABAAAAFQAAAAAAAAABAAAADQAAAAAAAAABAAAAEwAA" +
	"AAAAAAABAAAAEwAAAAAAAAAbLM0G"

// Version-1 files still load, with the same results as when written.
func TestReadVersion1(t *testing.T) {
	b, err := base64.StdEncoding.DecodeString(v1File)
	if err != nil {
		t.Fatal(err)
	}
	x, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 23 || x.Config().M != 2 || x.Config().Seed != 7 {
		t.Fatalf("Len %d, config %+v", x.Len(), x.Config())
	}
	res, _ := x.Search(nil, []float32{2, 2, 1, 1}, 5, nearkit.SearchOptions{Ef: 20})
	want := []nearkit.Result{{ID: 107, Distance: 1}, {ID: 112, Distance: 1}, {ID: 113, Distance: 1}, {ID: 111, Distance: 2}, {ID: 116, Distance: 2}}
	if !slices.Equal(res, want) {
		t.Fatalf("got %v, want %v", res, want)
	}
	// It cannot be mapped, and says how to convert it.
	path := filepath.Join(t.TempDir(), "v1.hnsw")
	os.WriteFile(path, b, 0o644)
	if _, err := Open(path, OpenOptions{}); hostLittleEndian && !errors.Is(err, nearkit.ErrIncompatible) {
		t.Fatalf("Open of a version-1 file: %v", err)
	}
	// Saved again it is the current version and maps.
	if err := x.Save(path); err != nil {
		t.Fatal(err)
	}
	y, err := Open(path, OpenOptions{VerifyChecksum: true})
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if r2, _ := y.Search(nil, []float32{2, 2, 1, 1}, 5, nearkit.SearchOptions{Ef: 20}); !slices.Equal(r2, want) {
		t.Fatalf("after conversion: %v", r2)
	}
}
