package collection

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
)

// TestConcurrentUse runs upserts, deletes, queries, Get, All and
// checkpoints together (a -race test), then checks the collection against
// what each writer did to its own keys, before and after reopening.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{Dim: testDim, Index: HNSW(hnsw.Config{M: 8, EfConstruction: 32, Seed: 1}), Sync: durable.SyncInterval(2 * time.Millisecond), CheckpointBytes: 32 << 10}
	c, err := Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	writers, ops := 4, 150
	if testing.Short() {
		ops = 40
	}
	want := make([]map[string]Document, writers)
	var wg sync.WaitGroup
	for w := range writers {
		want[w] = map[string]Document{}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for i := range ops {
				key := fmt.Sprintf("w%d-%d", w, rng.IntN(30))
				if i%4 == 3 {
					if err := c.Delete(ctx, key); err != nil {
						t.Error(err)
						return
					}
					delete(want[w], key)
					continue
				}
				d := testDoc(rng, i)
				d.Key = key
				if err := c.Upsert(ctx, d); err != nil {
					t.Error(err)
					return
				}
				want[w][key] = d
			}
		})
	}
	stop := make(chan struct{})
	var side sync.WaitGroup
	side.Go(func() {
		rng := rand.New(rand.NewPCG(9, 9))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := c.Query(ctx, vec(rng), 5, Where(Or(Eq("class", String("3")), Less("price", 20))), WithMetadata(), WithPayload()); err != nil {
				t.Error(err)
				return
			}
			c.Get("w0-1")
			for range c.All() {
			}
		}
	})
	side.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := c.Checkpoint(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	side.Wait()
	check := func(c *Collection) {
		t.Helper()
		n := 0
		for _, m := range want {
			n += len(m)
			for k, d := range m {
				if got, ok := c.Get(k); !ok || !sameDoc(got, d) {
					t.Fatalf("%q: got %+v (%v), want %+v", k, got, ok, d)
				}
			}
		}
		if c.Len() != n {
			t.Fatalf("Len %d, want %d", c.Len(), n)
		}
	}
	check(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c, err = Open(ctx, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check(c)
}
