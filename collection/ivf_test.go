package collection

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/ivf"
)

// TestIVFTrainsAcrossReopen checkpoints an ivf collection before it has
// enough vectors to train, reopens it, and checks that it trains once it
// has, and that a trained snapshot and the log after it reopen as well.
func TestIVFTrainsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Dim: testDim, Index: IVF(ivf.Config{NList: 4, Seed: 2}, 300), Sync: durable.SyncNever}
	rng := rand.New(rand.NewPCG(4, 4))
	c, err := Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := c.Upsert(ctx, testDoc(rng, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.idx.(*trainingIVF).Trained() || c.Len() != 200 {
		t.Fatalf("reopened: trained %v, %d documents", c.idx.(*trainingIVF).Trained(), c.Len())
	}
	d := testDoc(rng, 5)
	if hits, err := c.Query(ctx, d.Vector, 3); err != nil || len(hits) != 3 {
		t.Fatalf("query before training: %v %v", hits, err)
	}
	for i := 200; i < 400; i++ {
		if err := c.Upsert(ctx, testDoc(rng, i)); err != nil {
			t.Fatal(err)
		}
	}
	if !c.idx.(*trainingIVF).Trained() {
		t.Fatal("not trained at 400 documents")
	}
	c.Checkpoint(ctx)
	for i := 400; i < 450; i++ {
		c.Upsert(ctx, testDoc(rng, i))
	}
	c.Delete(ctx, "doc-3", "doc-401")
	c.Close()
	c, err = Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.idx.(*trainingIVF).Trained() || c.Len() != 448 || c.idx.Len() != 448 {
		t.Fatalf("reopened: trained %v, %d documents, index %d", c.idx.(*trainingIVF).Trained(), c.Len(), c.idx.Len())
	}
	n, _ := c.Count(Eq("class", String("7")))
	hits, err := c.Query(ctx, d.Vector, 100, Where(Eq("class", String("7"))))
	if err != nil || len(hits) != min(100, n) {
		t.Fatalf("filtered query: %d hits of %d matching, %v", len(hits), n, err)
	}
}
