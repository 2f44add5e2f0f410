package collection

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
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/internal/record"
)

// checkTables fails t unless the collection's tables agree: slots and
// IDs map to each other, keys, live bits, posting lists and columns hold
// exactly the documents' values, and free IDs and held ones partition the
// IDs below next.
func checkTables(t testing.TB, c *Collection) {
	t.Helper()
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.docs)
	if len(c.ids) != n || c.vecs.n != n || len(c.keys) != n || c.live.Count() != n {
		t.Fatalf("%d docs, %d ids, %d vectors, %d keys, %d live", n, len(c.ids), c.vecs.n, len(c.keys), c.live.Count())
	}
	if c.idx.Len() != n {
		t.Fatalf("index holds %d vectors, collection %d documents", c.idx.Len(), n)
	}
	numbers := map[string]int{}
	for slot, id := range c.ids {
		if !c.held(id) || c.slotOf[id]-1 != uint32(slot) || !c.live.Has(uint64(id)) {
			t.Fatalf("slot %d names id %d, which maps to slot %d", slot, id, int(c.slotOf[id])-1)
		}
		d := c.docs[slot]
		if c.keys[d.key] != id {
			t.Fatalf("key %q maps to %d, its document is id %d", d.key, c.keys[d.key], id)
		}
		for name, v := range d.meta {
			f := c.fields[name]
			if f == nil {
				t.Fatalf("field %q of %q has no index", name, d.key)
			}
			if v.kind == KindNumber {
				numbers[name]++
				if x, ok := f.nums.get(uint32(slot)); !ok || x != v.f {
					t.Fatalf("column %q slot %d holds %v %v, document %v", name, slot, x, ok, v.f)
				}
			} else if l := f.lists[v.postingKey()]; l == nil || !l.Has(id) {
				t.Fatalf("posting list %q=%v lacks id %d", name, v, id)
			}
		}
	}
	for name, f := range c.fields {
		if f.nums.n != numbers[name] {
			t.Fatalf("column %q counts %d values, documents hold %d", name, f.nums.n, numbers[name])
		}
		for k, l := range f.lists {
			got := 0
			for id := range c.next {
				if l.Has(id) {
					got++
					v, ok := c.docs[c.slotOf[id]-1].meta[name]
					if !c.held(id) || !ok || v.postingKey() != k {
						t.Fatalf("posting list %q/%q holds id %d, whose document has no such value", name, k, id)
					}
				}
			}
			if got != l.Len() {
				t.Fatalf("posting list %q/%q counts %d, holds %d below next", name, k, l.Len(), got)
			}
		}
	}
	free := 0
	for id := range c.next {
		if !c.held(id) {
			free++
		}
	}
	if free+n != int(c.next) || len(c.slotOf) > int(c.next) {
		t.Fatalf("%d free and %d held IDs below next %d (tables cover %d)", free, n, c.next, len(c.slotOf))
	}
}

// TestModel drives a collection with random upserts, replacements and
// deletes against a map, through reopenings (replay) and checkpoints
// (snapshots), checking the tables after each step and counts of range
// and equality filters against a brute-force evaluation. A rare numeric
// field exercises the sparse column form, a common one the dense form
// and the changes between them as documents come and go.
func TestModel(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Dim: testDim, Index: Flat(), Sync: durable.SyncNever}
	c, err := Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Close() }()
	rng := rand.New(rand.NewPCG(5, 6))
	model := map[string]Document{}
	rounds, keys := 12, 400
	if testing.Short() {
		rounds = 5
	}
	mkdoc := func(k int) Document {
		m := map[string]Value{"price": Number(float64(rng.IntN(100)))}
		if rng.IntN(20) == 0 {
			m["rare"] = Number(float64(rng.IntN(10)))
		}
		if rng.IntN(2) == 0 {
			m["class"] = String(fmt.Sprint(rng.IntN(5)))
		}
		return Document{Key: fmt.Sprintf("k%d", k), Vector: vec(rng), Metadata: m}
	}
	conds := []Cond{
		Range("price", 10, 40), Range("rare", 2, 6), Eq("class", String("3")),
		And(Eq("class", String("1")), Range("price", 0, 5)), Or(Range("rare", 0, 1), Not(Range("price", 0, 90))),
	}
	for round := range rounds {
		for range 300 {
			k := rng.IntN(keys)
			switch r := rng.IntN(10); {
			case r < 6:
				var batch []Document
				for j := range 1 + rng.IntN(4) {
					d := mkdoc((k + j*7) % keys)
					batch = append(batch, d)
				}
				if err := c.Upsert(ctx, batch...); err != nil {
					t.Fatal(err)
				}
				for _, d := range batch {
					model[d.Key] = d
				}
			default:
				ks := []string{fmt.Sprintf("k%d", k), fmt.Sprintf("k%d", (k*3)%keys)}
				if err := c.Delete(ctx, ks...); err != nil {
					t.Fatal(err)
				}
				for _, key := range ks {
					delete(model, key)
				}
			}
		}
		checkTables(t, c)
		for _, cond := range conds {
			want := 0
			for _, d := range model {
				if evalDoc(cond, d) {
					want++
				}
			}
			if got, err := c.Count(cond); err != nil || got != want {
				t.Fatalf("round %d: Count(%v) = %d, %v; want %d", round, cond, got, err, want)
			}
		}
		if round%3 == 1 {
			if err := c.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if c, err = Open(ctx, dir, cfg); err != nil {
			t.Fatal(err)
		}
		checkTables(t, c)
		if c.Len() != len(model) {
			t.Fatalf("round %d: %d documents after reopening, want %d", round, c.Len(), len(model))
		}
		for k, d := range model {
			if got, ok := c.Get(k); !ok || !sameDoc(got, d) {
				t.Fatalf("round %d: %q = %+v, want %+v", round, k, got, d)
			}
		}
	}
}

// snapshotSection builds the document section of a collection snapshot
// (see persist.go) for testDim vectors in a flat index, with the given
// free IDs and documents (IDs and keys), each document's vector zero.
func snapshotSection(free []uint32, ids []uint32) []byte {
	b := make([]byte, 8)
	b = append(b, collMagic...)
	b = record.AppendU32(b, collVersion)
	b = record.AppendU32(b, testDim)
	b = record.AppendU8(b, 0)
	b = record.AppendString(b, "flat")
	b = record.AppendU32(b, uint32(len(ids)))
	b = record.AppendU32(b, uint32(len(free)))
	for _, id := range free {
		b = record.AppendU32(b, id)
	}
	c := &Collection{cfg: Config{Dim: testDim}}
	for i, id := range ids {
		b = record.AppendU32(b, id)
		b = c.appendDoc(b, doc{key: fmt.Sprintf("f%d", i)}, make([]float32, testDim))
	}
	binary.LittleEndian.PutUint64(b, uint64(len(b)-8))
	return b
}

// forgedBudget: restoring or replaying a forged input may allocate a
// small multiple of its bytes plus a fixed amount (the collection's maps
// and the index's first chunk), never in proportion to an ID it names.
var forgedBudget = attack.Budget{PerByte: 16, Fixed: 8 << 20}

func restoreReader(t testing.TB) attack.Reader {
	return func(r io.Reader) error {
		c := fuzzCollection(t)
		return (*state)(c).Restore(r)
	}
}

// TestForgedSnapshotIDs restores snapshots whose checksums would be
// right but whose IDs lie beyond what the snapshot holds: each is refused
// with nearkit.ErrCorrupt before anything is sized by the ID.
func TestForgedSnapshotIDs(t *testing.T) {
	big := uint32(math.MaxUint32 - 1)
	cases := map[string][]byte{
		"document id beyond the IDs held":  snapshotSection(nil, []uint32{big}),
		"document id beyond a free list":   snapshotSection([]uint32{0, 1}, []uint32{5}),
		"free id beyond the IDs held":      snapshotSection([]uint32{big}, []uint32{0}),
		"document id listed free":          snapshotSection([]uint32{0}, []uint32{0}),
		"free ids out of order":            snapshotSection([]uint32{1, 0}, []uint32{2}),
		"document ids out of order":        snapshotSection([]uint32{1}, []uint32{2, 0}),
		"count beyond the bytes":           patchU32(snapshotSection(nil, []uint32{0}), "count", math.MaxUint32),
		"free count beyond the bytes":      patchU32(snapshotSection(nil, []uint32{0}), "free", math.MaxUint32),
		"free count and count overflowing": patchU32(snapshotSection([]uint32{0}, []uint32{1}), "free", math.MaxUint32),
	}
	for name, data := range cases {
		// The index part: a valid empty-or-not flat index is not needed,
		// the section is refused first.
		res := attack.Run(restoreReader(t), data)
		attack.Check(t, name, res, forgedBudget, true, nearkit.ErrCorrupt)
	}
}

// patchU32 overwrites the section's count ("count") or free count
// ("free"), which follow the index type name.
func patchU32(b []byte, which string, v uint32) []byte {
	off := 8 + 8 + 4 + 4 + 1 + 4 + len("flat")
	if which == "free" {
		off += 4
	}
	binary.LittleEndian.PutUint32(b[off:], v)
	return b
}

// TestSnapshotHostile restores every truncation of a real snapshot
// (refused) and bit flips of it (refused or accepted, as a flip inside a
// vector may be), within the allocation budget: the checksums that catch
// flips are the durable layer's, so the collection's reader must hold on
// its own.
func TestSnapshotHostile(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, t.TempDir(), Config{Dim: testDim, Index: Flat(), Sync: durable.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 40 {
		if err := c.Upsert(ctx, testDoc(rng, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete(ctx, "doc-3", "doc-17", "doc-39"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := (*state)(c).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	read := restoreReader(t)
	if res := attack.Run(read, data); res.Err != nil {
		t.Fatal(res.Err)
	}
	most := 400
	if testing.Short() {
		most = 40
	}
	for _, off := range attack.Offsets(len(data), most) {
		attack.Check(t, fmt.Sprintf("cut at %d", off), attack.Run(read, data[:off]), forgedBudget, true)
	}
	flipped := make([]byte, len(data))
	for _, off := range attack.Offsets(len(data), most) {
		copy(flipped, data)
		flipped[off] ^= 1 << (off % 8)
		attack.Check(t, fmt.Sprintf("flip at %d", off), attack.Run(read, flipped), forgedBudget, false)
	}
}

// upsertRecord encodes an upsert of new documents under the given IDs.
func upsertRecord(ids ...uint32) []byte {
	c := &Collection{cfg: Config{Dim: testDim}}
	var ops []upsertOp
	for i, id := range ids {
		ops = append(ops, upsertOp{id: id, isNew: true, doc: doc{key: fmt.Sprintf("new-%d-%d", id, i)}, vec: make([]float32, testDim)})
	}
	return c.encodeUpsert(ops)
}

// TestForgedRecordIDs replays records naming new documents' IDs: the
// next ID and free ones are what Upsert hands out and replay accepts;
// anything beyond the next, or a free ID taken twice, is refused with
// nearkit.ErrCorrupt within the allocation budget.
func TestForgedRecordIDs(t *testing.T) {
	// seeded holds doc-0 and doc-2 as IDs 0 and 2, ID 1 free, next 3.
	seeded := func(t testing.TB) *Collection {
		c := fuzzCollection(t)
		recs, _ := seedRecords(t)
		for _, r := range recs {
			if err := (*state)(c).Replay(r); err != nil {
				t.Fatal(err)
			}
		}
		if c.next != 3 || c.held(1) {
			t.Fatalf("next %d, id 1 held %v", c.next, c.held(1))
		}
		return c
	}
	accept := map[string][]byte{
		"the next id":                upsertRecord(3),
		"a free id":                  upsertRecord(1),
		"the next ids in order":      upsertRecord(3, 4, 5),
		"a free id and the next one": upsertRecord(1, 3),
	}
	for name, rec := range accept {
		c := seeded(t)
		if err := (*state)(c).Replay(rec); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkTables(t, c)
	}
	refuse := map[string][]byte{
		"a huge id":                upsertRecord(math.MaxUint32 - 1),
		"one beyond the next":      upsertRecord(4),
		"the next ids out of turn": upsertRecord(4, 3),
		"a held id as new":         upsertRecord(2),
		"a free id twice":          upsertRecord(1, 1),
		"the next id twice":        upsertRecord(3, 3),
	}
	for name, rec := range refuse {
		res := attack.Run(func(r io.Reader) error {
			b, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			return (*state)(seeded(t)).Replay(b)
		}, rec)
		attack.Check(t, name, res, forgedBudget, true, nearkit.ErrCorrupt)
	}
}

// TestForgedLogRecordOnOpen puts a well-framed log record (its CRC
// computed) naming a huge new ID in a collection's directory: Open
// refuses it as corruption instead of allocating for the ID.
func TestForgedLogRecordOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Dim: testDim, Index: Flat(), Sync: durable.SyncAlways}
	c, err := Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upsert(ctx, testDoc(rand.New(rand.NewPCG(1, 1)), 0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	if len(segs) == 0 {
		t.Fatal("no segment")
	}
	// The upsert is LSN 1; the record after it is LSN 2, in the last
	// segment (see durable's record.go for the frame).
	last := segs[len(segs)-1]
	f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(frame(2, upsertRecord(math.MaxUint32-1))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = Open(ctx, dir, cfg)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, nearkit.ErrCorrupt) {
		t.Fatalf("Open = %v, want ErrCorrupt", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Fatalf("Open allocated %d bytes for a forged record", got)
	}
}

// frame frames a log record as durable writes it.
func frame(lsn uint64, p []byte) []byte {
	tab := crc32.MakeTable(crc32.Castagnoli)
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(p)))
	crc := crc32.Update(0, tab, b)
	crc = crc32.Update(crc, tab, p)
	crc = crc32.Update(crc, tab, binary.LittleEndian.AppendUint64(nil, lsn))
	b = binary.LittleEndian.AppendUint32(b, crc)
	b = binary.LittleEndian.AppendUint64(b, lsn)
	return append(b, p...)
}
