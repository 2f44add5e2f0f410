package ivf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// TestIDBloomFalsePositives bounds the filter's false-positive rate at
// full load: every false positive costs a scan of the lists' IDs.
func TestIDBloomFalsePositives(t *testing.T) {
	const n = 50_000
	rng := rand.New(rand.NewPCG(3, 4))
	b := newIDBloom(n)
	for range n {
		b.testAndAdd(rng.Uint64())
	}
	// Sequential IDs, the common case, must spread as well as random ones.
	for _, gen := range []func(i int) uint64{
		func(int) uint64 { return rng.Uint64() },
		func(i int) uint64 { return uint64(i) << 1 },
	} {
		// Probing adds; restoring the words every 500 probes keeps the
		// load within 1 % of full.
		full := append([]uint64(nil), b.words...)
		fp := 0
		for i := range n {
			if i%500 == 0 {
				copy(b.words, full)
			}
			if b.testAndAdd(gen(i)) {
				fp++
			}
		}
		copy(b.words, full)
		rate := float64(fp) / n
		t.Logf("false-positive rate %.4f", rate)
		if rate > 0.02 {
			t.Errorf("false-positive rate %.4f at full load, want ≤ 0.02", rate)
		}
	}
	if got := float64(b.bytes()) / n; got > 1.3 {
		t.Errorf("%.2f bytes per ID", got)
	}
}

// TestDuplicateIDsWithoutTable checks that the filter path finds every
// duplicate (held or repeated in the batch) and no false one, and that a
// refused batch leaves the index and the filter as they were.
func TestDuplicateIDsWithoutTable(t *testing.T) {
	ctx := context.Background()
	const n = 4000
	data := clustered(n+2000, tDim, 8, 11)
	x, err := New(quick(Config{Dim: tDim, NList: 16, Encoding: SQ8}))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Train(ctx, data[:n*tDim]); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	ids := make([]uint64, 0, n+2000)
	have := map[uint64]bool{}
	for len(ids) < cap(ids) {
		id := rng.Uint64() >> rng.IntN(64)
		if !have[id] {
			have[id] = true
			ids = append(ids, id)
		}
	}
	// One at a time for the first thousand (the filter is rebuilt as it
	// fills), then a batch.
	for i := range 1000 {
		if err := x.Add(ids[i], data[i*tDim:(i+1)*tDim]); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	if err := x.AddBatch(ctx, ids[1000:n], data[1000*tDim:n*tDim]); err != nil {
		t.Fatal(err)
	}
	if x.loc != nil || x.seen == nil {
		t.Fatal("the exact ID table was built without a Delete or Update")
	}
	for _, i := range []int{0, 1, 999, 1000, n - 1} {
		batch := []uint64{ids[n], ids[i], ids[n+1]}
		if err := x.AddBatch(ctx, batch, data[:3*tDim]); !errors.Is(err, nearkit.ErrDuplicateID) {
			t.Errorf("held id %d: %v", ids[i], err)
		}
	}
	if err := x.AddBatch(ctx, []uint64{ids[n], ids[n+1], ids[n]}, data[:3*tDim]); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("repeated in batch: %v", err)
	}
	if x.Len() != n {
		t.Fatalf("Len %d after refused batches, want %d", x.Len(), n)
	}
	// The refused batches' new IDs left no trace: all of them add now.
	if err := x.AddBatch(ctx, ids[n:], data[n*tDim:]); err != nil {
		t.Fatalf("new IDs after refused batches: %v", err)
	}
	// Read checks a file's IDs the same way.
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	y, err := Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Add(ids[17], data[:tDim]); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("held id after Read: %v", err)
	}
	// The first Delete builds the table, which then serves the checks.
	if err := x.Delete(ids[5]); err != nil {
		t.Fatal(err)
	}
	if x.loc == nil || x.seen != nil {
		t.Fatal("Delete did not switch to the exact ID table")
	}
	if err := x.Add(ids[6], data[:tDim]); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("held id with the table: %v", err)
	}
	if err := x.Add(ids[5], data[:tDim]); err != nil {
		t.Errorf("re-adding a deleted id: %v", err)
	}
}

// TestReadRefusesStoredDuplicate forges a file whose lists hold one ID
// twice, with a valid checksum.
func TestReadRefusesStoredDuplicate(t *testing.T) {
	ctx := context.Background()
	data := clustered(600, tDim, 4, 12)
	x, err := New(quick(Config{Dim: tDim, NList: 4, Encoding: SQ8}))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Train(ctx, data); err != nil {
		t.Fatal(err)
	}
	const a, b = 0x1111_2222_3333_4444, 0x5555_6666_7777_8888
	ids := seqIDs(600)
	ids[100], ids[500] = a, b
	if err := x.AddBatch(ctx, ids, data); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	file := buf.Bytes()
	var pat [8]byte
	binary.LittleEndian.PutUint64(pat[:], b)
	i := bytes.Index(file, pat[:])
	if i < 0 {
		t.Fatal("id not found in the stream")
	}
	binary.LittleEndian.PutUint64(file[i:], a)
	// The stream ends with the CRC-32C of everything before it.
	binary.LittleEndian.PutUint32(file[len(file)-4:], binfmt.Checksum(file[:len(file)-4]))
	if _, err := Read(bytes.NewReader(file)); !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("stored duplicate: %v", err)
	}
}

// TestMemoryPerVector bounds what an index holds per vector beyond its
// entries, built one batch at a time as a service adds: the ID filter and
// the lists' spare capacity.
func TestMemoryPerVector(t *testing.T) {
	ctx := context.Background()
	const n, batch = 20_000, 1000
	data := clustered(n, tDim, 16, 13)
	x, err := New(quick(Config{Dim: tDim, NList: 16, Encoding: PQFastScan, M: 8}))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Train(ctx, data[:4000*tDim]); err != nil {
		t.Fatal(err)
	}
	ids := seqIDs(n)
	for lo := 0; lo < n; lo += batch {
		if err := x.AddBatch(ctx, ids[lo:lo+batch], data[lo*tDim:(lo+batch)*tDim]); err != nil {
			t.Fatal(err)
		}
	}
	m := x.Stats().Memory
	if want := int64(n * (8 + 4)); m.Entries < want || m.Entries > want+16*int64(x.nPairs*32) {
		t.Errorf("entries %d bytes, want %d plus at most a block per list", m.Entries, want)
	}
	if got := float64(m.IDs) / n; got > 1.6 {
		t.Errorf("ID filter %.2f bytes/vector", got)
	}
	if got := float64(m.Spare) / float64(m.Entries); got > 0.13 {
		t.Errorf("spare capacity %.3f of the entries", got)
	}
	if x.MemoryUsage() != m.Entries+m.Spare+m.IDs+m.Fixed {
		t.Error("MemoryUsage is not the sum of its breakdown")
	}
	if err := x.Delete(3); err != nil {
		t.Fatal(err)
	}
	if got := float64(x.Stats().Memory.IDs) / n; got < 15 {
		t.Errorf("ID table after Delete counted as %.1f bytes/vector", got)
	}
}
