package hnsw

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// readIndex is Read as an attack.Reader.
func readIndex(r io.Reader) error {
	_, err := Read(r)
	return err
}

// chunkBudget allows one storage chunk (at most 64 slots of the largest
// record, or chunkBytes) beyond a small multiple of the bytes read.
var chunkBudget = attack.Budget{PerByte: 6, Fixed: 48 << 20}

// forged returns the start of a version-2 file for dim, M and n slots: the
// header, then the sections whose byte counts are given (labels, meta,
// vectors, links), each filled with plausible values, then nothing — a
// file that claims far more than it holds.
func forged(dim, m, n int, sections ...int) []byte {
	var buf bytes.Buffer
	cw := &countingWriter{w: &buf}
	w := binfmt.NewWriter(cw, magic, fileVersion)
	w.U32(uint32(dim))
	w.U8(uint8(distance.L2))
	w.U32(uint32(m))
	w.U32(100)
	w.U32(50)
	w.U64(1)
	w.U8(0)
	st, _ := rand.NewPCG(1, 2).MarshalBinary()
	w.U64(uint64(len(st)))
	w.Bytes(st)
	w.U64(0) // codec
	w.U64(uint64(n))
	w.U64(packEntry(0, 0))
	w.U64(0) // upper words
	w.Bytes(zeros[:padLen(cw.n)])
	for _, size := range sections {
		w.Bytes(make([]byte, size))
		w.Bytes(zeros[:padLen(cw.n)])
	}
	w.Finish() // the checksum lands mid-section: the stream is cut short
	return buf.Bytes()
}

// TestReadAllocatesAsDataArrives: a file claiming many slots but holding
// only part of them allocates in proportion to what it holds, whether its
// chunks are dominated by vectors (big dim) or by level-0 lists (big M).
func TestReadAllocatesAsDataArrives(t *testing.T) {
	const n = 4096
	for _, tc := range []struct {
		name     string
		dim, m   int
		sections []int
	}{
		{"labels-only/dim=65536", MaxDim, 2, []int{8 * n}},
		{"labels+meta/dim=65536", MaxDim, 2, []int{8 * n, 4 * n}},
		{"labels+meta/dim=1/M=2048", 1, MaxM, []int{8 * n, 4 * n}},
		{"vectors/dim=1/M=2048", 1, MaxM, []int{8 * n, 4 * n, 4 * n}},
		{"vectors/dim=784", 784, 16, []int{8 * n, 4 * n, 4 * n * 784 / 8}},
		{"huge-count", 16, 16, []int{8 * n}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := forged(tc.dim, tc.m, n, tc.sections...)
			if tc.name == "huge-count" {
				data = forged(tc.dim, tc.m, maxSlots, tc.sections...)
			}
			res := attack.Run(readIndex, data)
			attack.Check(t, tc.name, res, chunkBudget, true, nearkit.ErrCorrupt)
		})
	}
}

// TestReadHostileStreams: every truncation and single-bit flip of a real
// file (float, cosine, SQ8 and QGraph, with tombstones and free slots),
// and every count field of the header and of the codec forged with the
// checksums recomputed, is refused by Read within the allocation budget;
// every truncation and forged count is refused by Open too (its bit flips:
// TestOpenChecksSections).
func TestReadHostileStreams(t *testing.T) {
	most, cfgs := 150, hostileConfigs
	if raceEnabled || testing.Short() {
		// The quantized files, whose codecs are nested streams.
		most, cfgs = 20, hostileConfigs[2:]
	}
	if raceEnabled {
		cfgs = hostileConfigs[3:] // the race detector adds nothing to a single-goroutine reader
	}
	for _, cfg := range cfgs {
		t.Run(configName(cfg), func(t *testing.T) {
			x, _ := churned(t, cfg, 64)
			if !x.Trained() {
				t.Fatal("not trained")
			}
			b := fileBytes(t, x)
			tried := attack.Stream(t, readIndex, b, chunkBudget, most, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
			fields, seal := countFields(b)
			tried += attack.Counts(t, readIndex, b, fields, seal, chunkBudget, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
			if hostLittleEndian {
				for i, off := range attack.Offsets(len(b), most) {
					if testing.Short() && i%8 != 0 {
						continue
					}
					attack.Check(t, fmt.Sprintf("Open of the file cut at %d", off), attack.Run(openBytes, b[:off]), chunkBudget, true, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
					tried++
				}
				tried += attack.Counts(t, openBytes, b, fields, seal, chunkBudget, nearkit.ErrCorrupt, nearkit.ErrIncompatible)
			}
			t.Logf("%d hostile streams refused", tried)
		})
	}
}

// openBytes is Open's decoder as an attack.Reader.
func openBytes(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, err = openMapped(alignedCopy(b), OpenOptions{})
	return err
}

// countFields returns the count fields of a version-3 file's header and
// codec, and a seal that recomputes the checksums they are under: the
// codec's own (SQ8 and QGraph quantizers are nested binfmt streams), the
// header section's and the file's.
func countFields(b []byte) ([]attack.Field, func([]byte)) {
	const rngAt = 38 // after magic, version, dim … seed, quantization
	rngLen := int(binary.LittleEndian.Uint64(b[rngAt:]))
	codecAt := rngAt + 8 + rngLen
	codecLen := int(binary.LittleEndian.Uint64(b[codecAt:]))
	slotsAt := codecAt + 8 + codecLen
	f := func(name string, at, width int) attack.Field { return attack.Field{Name: name, At: at, Width: width} }
	fields := []attack.Field{
		f("dim", 12, 4), f("M", 17, 4),
		f("generator state bytes", rngAt, 8), f("codec bytes", codecAt, 8),
		f("slots", slotsAt, 8), f("upper words", slotsAt+16, 8),
	}
	inner, innerLen := codecAt+8, codecLen
	switch Quantization(b[37]) {
	case SQ8:
		fields = append(fields, f("SQ8 dim", inner+12, 4))
	case QGraph:
		fields = append(fields, f("QGraph subspaces", inner, 4),
			f("PQ dim", inner+4+12, 4), f("PQ M", inner+4+16, 4), f("PQ bits", inner+4+20, 1))
		inner, innerLen = inner+4, innerLen-4
	}
	// The header section ends where the labels start, at the first
	// 64-byte boundary after the upper word count.
	headerEnd := slotsAt + 24
	headerEnd += padLen(int64(headerEnd))
	seal := func(b []byte) {
		if innerLen > 0 {
			attack.Resum(b[inner : inner+innerLen])
		}
		k := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
		if foot := len(b) - 8 - 4*k; k > 0 && foot >= headerEnd {
			binary.LittleEndian.PutUint32(b[foot:], binfmt.Checksum(b[:headerEnd]))
		}
		attack.Resum(b)
	}
	return fields, seal
}

// resum rewrites the trailing checksum of a whole file after a forgery.
func resum(b []byte) []byte {
	body := len(b) - 4
	c := crc32.Checksum(b[:body], crc32.MakeTable(crc32.Castagnoli))
	b[body], b[body+1], b[body+2], b[body+3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
	return b
}

// TestReadRejectsInvalidVectors: vectors that Add would have refused (NaN,
// Inf, or not unit length under cosine) are refused by Read and by Open
// with VerifyChecksum even when the checksum is valid.
func TestReadRejectsInvalidVectors(t *testing.T) {
	for _, tc := range []struct {
		metric distance.Metric
		val    float32
	}{
		{distance.L2, float32(math.NaN())},
		{distance.L2, float32(math.Inf(1))},
		{distance.Cosine, float32(math.NaN())},
		{distance.Cosine, 5e18},
	} {
		t.Run(fmt.Sprintf("%v/%v", tc.metric, tc.val), func(t *testing.T) {
			x, err := New(Config{Dim: 4, M: 4, Metric: tc.metric, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := x.AddBatch(context.Background(), []uint64{1, 2, 3}, []float32{1, 2, 3, 4, 4, 3, 2, 1, 1, 1, 1, 1}); err != nil {
				t.Fatal(err)
			}
			b := fileBytes(t, x)
			// The vectors section follows labels and meta; find slot 1's
			// first element by its bytes.
			v := x.vecOf(x.dir.Load(), 1)
			pat := make([]byte, 4)
			putF32(pat, v[0])
			i := bytes.Index(b, pat)
			if i < 0 {
				t.Fatal("vector not found in the file")
			}
			putF32(b[i:], tc.val)
			reseal(t, b)
			// Refused by the vector check (which names the slot), not by
			// a checksum.
			if _, err := Read(bytes.NewReader(b)); !isCorrupt(err) || !strings.Contains(err.Error(), "hnsw: slot ") {
				t.Fatalf("Read: %v", err)
			}
			if _, err := openMapped(alignedCopy(b), OpenOptions{VerifyChecksum: true}); !isCorrupt(err) || !strings.Contains(err.Error(), "hnsw: slot ") {
				t.Fatalf("Open with VerifyChecksum: %v", err)
			}
		})
	}
}

func putF32(b []byte, f float32) {
	u := math.Float32bits(f)
	b[0], b[1], b[2], b[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
}

func isCorrupt(err error) bool { return err != nil && errors.Is(err, nearkit.ErrCorrupt) }

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	res := attack.Run(func(io.Reader) error { f(); return nil }, nil)
	return res.Allocated
}

// TestHostileArguments: huge capacities, huge k, huge IDs and invalid
// vectors give an error or a clamped correct answer, never a process-
// killing allocation.
func TestHostileArguments(t *testing.T) {
	if got := allocated(func() {
		if _, err := New(Config{Dim: 8, Capacity: 1 << 30}); err != nil {
			t.Fatal(err)
		}
	}); got > 128<<20 {
		t.Fatalf("New with Capacity 1<<30 allocated %d bytes", got)
	}
	if _, err := New(Config{Dim: 8, Capacity: -1}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("negative Capacity: %v", err)
	}
	for _, cfg := range []Config{{Dim: 8, Seed: 1}, {Dim: 8, Seed: 1, Metric: distance.Cosine}, {Dim: 8, Seed: 1, Quantization: SQ8}} {
		x, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		const n = 300
		ids := make([]uint64, n)
		vecs := make([]float32, n*8)
		for i := range ids {
			ids[i] = math.MaxUint64 - uint64(i)*0x9E3779B97F4A7C15 // hashed IDs
		}
		for i := range vecs {
			vecs[i] = r.Float32()*2 - 1
		}
		if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
			t.Fatal(err)
		}
		q := vecs[:8]
		for _, k := range []int{n + 1, 1 << 40, math.MaxInt} {
			if got := allocated(func() {
				res, err := x.SearchBatch(context.Background(), vecs[:4*8], k, nearkit.SearchOptions{})
				if err != nil || len(res) != 4 || len(res[0]) != n {
					t.Fatalf("SearchBatch k=%d: %d results, %v", k, len(res[0]), err)
				}
				one, err := x.Search(nil, q, k, nearkit.SearchOptions{})
				if err != nil || len(one) != n {
					t.Fatalf("Search k=%d: %d results, %v", k, len(one), err)
				}
			}); got > 16<<20 {
				t.Fatalf("k=%d allocated %d bytes", k, got)
			}
		}
		for _, k := range []int{0, -1, math.MinInt} {
			if _, err := x.Search(nil, q, k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
				t.Fatalf("k=%d: %v", k, err)
			}
			if _, err := x.SearchBatch(context.Background(), q, k, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidK) {
				t.Fatalf("SearchBatch k=%d: %v", k, err)
			}
		}
		bad := []float32{1, 2, 3, float32(math.NaN()), 5, 6, 7, 8}
		if _, err := x.Search(nil, bad, 3, nearkit.SearchOptions{}); !errors.Is(err, nearkit.ErrInvalidVector) {
			t.Fatalf("NaN query: %v", err)
		}
		if err := x.Add(1, bad); !errors.Is(err, nearkit.ErrInvalidVector) {
			t.Fatalf("NaN vector: %v", err)
		}
		if err := x.Add(2, bad[:3]); !errors.Is(err, nearkit.ErrDimension) {
			t.Fatalf("short vector: %v", err)
		}
		if err := x.Delete(12345); !errors.Is(err, nearkit.ErrUnknownID) {
			t.Fatalf("unknown id: %v", err)
		}
		if err := x.Delete(ids[7]); err != nil {
			t.Fatal(err)
		}
		// A finite vector whose float32 squared norm overflows must rank
		// as its direction says, not first for every query.
		huge := make([]float32, 8)
		for i := range huge {
			huge[i] = -5e18
		}
		if err := x.Add(42, huge); err != nil {
			t.Fatal(err)
		}
		if cfg.Metric == distance.Cosine {
			res, err := x.Search(nil, []float32{1, 1, 1, 1, 1, 1, 1, 1}, 1, nearkit.SearchOptions{})
			if err != nil || len(res) != 1 || res[0].ID == 42 || math.IsInf(float64(res[0].Distance), 0) {
				t.Fatalf("overflowing norm ranks first or infinite: %v %v", res, err)
			}
			res, err = x.Search(nil, []float32{-1, -1, -1, -1, -1, -1, -1, -1}, 1, nearkit.SearchOptions{})
			if err != nil || len(res) != 1 || res[0].ID != 42 || res[0].Distance < -1e-3 {
				t.Fatalf("overflowing-norm vector not found by its direction: %v %v", res, err)
			}
		}
	}
}
