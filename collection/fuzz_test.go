package collection

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

func fuzzCollection(t testing.TB) *Collection {
	c := &Collection{cfg: Config{Dim: testDim, Index: Flat()}}
	if err := (*state)(c).Restore(nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// seedRecords returns log records and a snapshot of a small collection.
func seedRecords(t testing.TB) (recs [][]byte, snap []byte) {
	c := fuzzCollection(t)
	rng := rand.New(rand.NewPCG(1, 2))
	var ops []upsertOp
	for i := range 3 {
		d := testDoc(rng, i)
		ops = append(ops, upsertOp{id: uint32(i), isNew: true, doc: doc{key: d.Key, meta: d.Metadata, payload: d.Payload}, vec: d.Vector})
	}
	recs = append(recs, c.encodeUpsert(ops))
	if err := c.applyUpsert(ops); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, c.encodeDelete([]deleteOp{{id: 1, key: "doc-1"}}))
	var b bytes.Buffer
	if _, err := (*state)(c).WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return recs, b.Bytes()
}

// FuzzReplay applies an arbitrary record to a collection holding three
// documents: it must fail or apply, never panic, and leave keys, documents
// and index agreeing.
func FuzzReplay(f *testing.F) {
	recs, _ := seedRecords(f)
	for _, r := range recs {
		f.Add(r)
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		c := fuzzCollection(t)
		r0, _ := seedRecords(t)
		if err := (*state)(c).Replay(r0[0]); err != nil {
			t.Fatal(err)
		}
		if err := (*state)(c).Replay(rec); err != nil {
			return
		}
		if n := len(c.docs); n != len(c.keys) || c.idx.Len() != n {
			t.Fatalf("%d documents, %d keys, %d vectors", n, len(c.keys), c.idx.Len())
		}
	})
}

// FuzzRestore restores an arbitrary snapshot: an error or a consistent
// collection, never a panic or an allocation beyond the input's size.
func FuzzRestore(f *testing.F) {
	_, snap := seedRecords(f)
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Fuzz(func(t *testing.T, snap []byte) {
		c := fuzzCollection(t)
		if err := (*state)(c).Restore(bytes.NewReader(snap)); err != nil {
			return
		}
		if n := len(c.docs); n != len(c.keys) || c.idx.Len() != n {
			t.Fatalf("%d documents, %d keys, %d vectors", n, len(c.keys), c.idx.Len())
		}
		for k, d := range c.All() {
			if got, ok := c.Get(k); !ok || !sameDoc(got, d) {
				t.Fatalf("All and Get disagree on %q", k)
			}
		}
		if _, err := c.Query(context.Background(), make([]float32, testDim), 3, Where(Eq("class", String("0")))); err != nil {
			t.Fatal(err)
		}
	})
}
