package collection

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit/durable"
)

// TestCaptureIsolated captures a collection, then replaces, deletes (which
// moves the last documents into freed slots) and inserts documents before
// writing the captured section out: the snapshot must hold the documents
// as they were at the capture, since a checkpoint writes it while
// writers go on. Pages small enough to hold a few vectors make the
// changes cross page boundaries.
func TestCaptureIsolated(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, t.TempDir(), Config{Dim: testDim, Index: Flat(), Sync: durable.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.mu.Lock()
	c.vecs.perPage = 3
	c.mu.Unlock()
	rng := rand.New(rand.NewPCG(7, 7))
	want := map[string]Document{}
	for i := range 40 {
		d := testDoc(rng, i)
		if err := c.Upsert(ctx, d); err != nil {
			t.Fatal(err)
		}
		want[d.Key] = d
	}
	if err := c.Delete(ctx, "doc-5", "doc-6"); err != nil {
		t.Fatal(err)
	}
	delete(want, "doc-5")
	delete(want, "doc-6")

	var tail bytes.Buffer
	head, err := (*state)(c).Capture(&tail)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 60 {
		switch i % 3 {
		case 0:
			if err := c.Upsert(ctx, testDoc(rng, rng.IntN(40))); err != nil {
				t.Fatal(err)
			}
		case 1:
			if err := c.Delete(ctx, fmt.Sprintf("doc-%d", rng.IntN(40))); err != nil {
				t.Fatal(err)
			}
		default:
			if err := c.Upsert(ctx, testDoc(rng, 100+i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var snap bytes.Buffer
	if _, err := head.WriteTo(&snap); err != nil {
		t.Fatal(err)
	}
	snap.Write(tail.Bytes())

	r := fuzzCollection(t)
	if err := (*state)(r).Restore(&snap); err != nil {
		t.Fatal(err)
	}
	checkTables(t, r)
	if r.Len() != len(want) {
		t.Fatalf("snapshot holds %d documents, want %d", r.Len(), len(want))
	}
	for k, d := range want {
		if got, ok := r.Get(k); !ok || !sameDoc(got, d) {
			t.Fatalf("%q = %+v, %v; want %+v", k, got, ok, d)
		}
	}
}
