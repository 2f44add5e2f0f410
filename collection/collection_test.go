package collection

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/ivf"
)

const testDim = 8

func vec(rng *rand.Rand) []float32 {
	v := make([]float32, testDim)
	for i := range v {
		v[i] = rng.Float32()
	}
	return v
}

func testDoc(rng *rand.Rand, i int) Document {
	return Document{
		Key:    fmt.Sprintf("doc-%d", i),
		Vector: vec(rng),
		Metadata: map[string]Value{
			"class": String(fmt.Sprint(i % 10)),
			"price": Number(float64(i % 100)),
			"even":  Bool(i%2 == 0),
		},
		Payload: []byte(fmt.Sprintf("payload %d", i)),
	}
}

func sameDoc(a, b Document) bool {
	if a.Key != b.Key || !slices.Equal(a.Vector, b.Vector) || !slices.Equal(a.Payload, b.Payload) || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if b.Metadata[k] != v {
			return false
		}
	}
	return true
}

func TestCollectionBasics(t *testing.T) {
	ctx := context.Background()
	// The ivf type trains when the first batch of 250 arrives.
	for _, it := range []IndexType{Flat(), HNSW(hnsw.Config{Seed: 3}), IVF(ivf.Config{NList: 4, Seed: 1}, 200)} {
		t.Run(it.Name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{Dim: testDim, Index: it, Sync: durable.SyncNever}
			c, err := Open(ctx, dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 1))
			want := map[string]Document{}
			var batch []Document
			for i := range 500 {
				d := testDoc(rng, i)
				batch = append(batch, d)
				want[d.Key] = d
			}
			if err := c.Upsert(ctx, batch[:250]...); err != nil {
				t.Fatal(err)
			}
			if err := c.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			for _, d := range batch[250:] {
				if err := c.Upsert(ctx, d); err != nil {
					t.Fatal(err)
				}
			}
			// Replace some, delete some.
			for i := 0; i < 100; i++ {
				d := testDoc(rng, i)
				d.Metadata["class"] = String("replaced")
				delete(d.Metadata, "even")
				if err := c.Upsert(ctx, d); err != nil {
					t.Fatal(err)
				}
				want[d.Key] = d
			}
			var del []string
			for i := 100; i < 200; i += 3 {
				del = append(del, fmt.Sprintf("doc-%d", i))
				delete(want, fmt.Sprintf("doc-%d", i))
			}
			if err := c.Delete(ctx, append(del, "absent")...); err != nil {
				t.Fatal(err)
			}
			check := func(c *Collection) {
				t.Helper()
				if c.Len() != len(want) {
					t.Fatalf("Len %d, want %d", c.Len(), len(want))
				}
				for k, d := range want {
					got, ok := c.Get(k)
					if !ok || !sameDoc(got, d) {
						t.Fatalf("Get(%q) = %+v, %v; want %+v", k, got, ok, d)
					}
				}
				n := 0
				for k, d := range c.All() {
					if !sameDoc(d, want[k]) {
						t.Fatalf("All: %q differs", k)
					}
					n++
				}
				if n != len(want) {
					t.Fatalf("All walked %d", n)
				}
				conds := []Cond{
					Eq("class", String("3")),
					In("class", String("3"), String("replaced")),
					Range("price", 10, 19),
					And(Eq("even", Bool(true)), Less("price", 50)),
					Or(Eq("class", String("1")), Not(AtLeast("price", 5))),
					Not(Eq("class", String("replaced"))),
					Eq("price", Int(7)),
				}
				for _, cond := range conds {
					match := func(d Document) bool { return evalDoc(cond, d) }
					count := 0
					for _, d := range want {
						if match(d) {
							count++
						}
					}
					if got, _ := c.Count(cond); got != count {
						t.Fatalf("Count(%v) = %d, want %d", cond, got, count)
					}
					q := vec(rng)
					hits, err := c.Query(ctx, q, 10, Where(cond), WithMetadata(), WithPayload(), Ef(200))
					if err != nil {
						t.Fatal(err)
					}
					if len(hits) != min(10, count) {
						t.Fatalf("Query(%v): %d hits, want %d", cond, len(hits), min(10, count))
					}
					for _, h := range hits {
						d := want[h.Key]
						if !match(d) || string(h.Payload) != string(d.Payload) {
							t.Fatalf("Query(%v) returned %q which does not match", cond, h.Key)
						}
					}
				}
			}
			check(c)
			if it.Name == "ivf" && !c.idx.(*trainingIVF).Trained() {
				t.Fatal("ivf index not trained after 500 documents")
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			c, err = Open(ctx, dir, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Recovery(); r.Snapshot == "" || r.Replayed == 0 {
				t.Fatalf("recovery %+v", r)
			}
			check(c)
			// New keys reuse freed IDs.
			for i := 1000; i < 1040; i++ {
				d := testDoc(rng, i)
				if err := c.Upsert(ctx, d); err != nil {
					t.Fatal(err)
				}
				want[d.Key] = d
			}
			if err := c.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			check(c)
			c.Close()
			if _, err := Open(ctx, dir, Config{Dim: testDim + 1, Index: it}); !errors.Is(err, nearkit.ErrIncompatible) {
				t.Fatalf("reopen with another Dim: %v", err)
			}
		})
	}
}

// evalDoc is the reference semantics of a condition.
func evalDoc(c Cond, d Document) bool {
	switch c.op {
	case condAll:
		return true
	case condIn:
		v, ok := d.Metadata[c.field]
		return ok && slices.Contains(c.vals, v)
	case condRange:
		v, ok := d.Metadata[c.field]
		return ok && v.kind == KindNumber && v.f >= c.lo && v.f <= c.hi
	case condAnd:
		for _, s := range c.subs {
			if !evalDoc(s, d) {
				return false
			}
		}
		return true
	case condOr:
		for _, s := range c.subs {
			if evalDoc(s, d) {
				return true
			}
		}
		return false
	case condNot:
		return !evalDoc(c.subs[0], d)
	}
	panic("unknown")
}

func TestUpsertRejects(t *testing.T) {
	ctx := context.Background()
	c, err := Open(ctx, t.TempDir(), Config{Dim: testDim, Index: Flat()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	cases := []struct {
		d    Document
		want error
	}{
		{Document{Key: "", Vector: good}, nearkit.ErrInvalidConfig},
		{Document{Key: "a", Vector: good[:3]}, nearkit.ErrDimension},
		{Document{Key: "a", Vector: []float32{1, 2, 3, 4, 5, 6, 7, float32(nan())}}, nearkit.ErrInvalidVector},
		{Document{Key: "a", Vector: good, Metadata: map[string]Value{"x": {}}}, nearkit.ErrInvalidConfig},
		{Document{Key: "a", Vector: good, Metadata: map[string]Value{"x": Number(nan())}}, nearkit.ErrInvalidConfig},
		{Document{Key: "a", Vector: good, Metadata: map[string]Value{"": String("v")}}, nearkit.ErrInvalidConfig},
	}
	for i, tc := range cases {
		if err := c.Upsert(ctx, tc.d); !errors.Is(err, tc.want) {
			t.Errorf("case %d: %v, want %v", i, err, tc.want)
		}
	}
	if err := c.Upsert(ctx, Document{Key: "a", Vector: good}, Document{Key: "a", Vector: good}); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("duplicate key: %v", err)
	}
	if c.Len() != 0 {
		t.Fatalf("rejected upserts stored %d documents", c.Len())
	}
	if _, err := c.Query(ctx, good, 0); !errors.Is(err, nearkit.ErrInvalidK) {
		t.Errorf("k=0: %v", err)
	}
	if hits, err := c.Query(ctx, good, 1<<40); err != nil || len(hits) != 0 {
		t.Errorf("huge k on an empty collection: %v %v", hits, err)
	}
	if _, err := c.Query(ctx, good, 1, Where(Range("p", nan(), 1))); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("NaN range: %v", err)
	}
}

func nan() float64 { var z float64; return z / z }
