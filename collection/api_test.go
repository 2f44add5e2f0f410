package collection

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/ivf"
)

// apiCollection opens a fresh collection of dimension attack.Dim over it
// holding n documents (apiDoc), closed when the test ends.
func apiCollection(t *testing.T, it IndexType, n int) *Collection {
	t.Helper()
	c, err := Open(context.Background(), t.TempDir(), Config{Dim: attack.Dim, Index: it, Sync: durable.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if n > 0 {
		docs := make([]Document, n)
		for i := range docs {
			docs[i] = apiDoc(i)
		}
		if err := c.Upsert(context.Background(), docs...); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// apiDoc is document i of the suite's collections: a string, a number
// and a bool field, and a payload.
func apiDoc(i int) Document {
	return Document{
		Key:    fmt.Sprintf("k%d", i),
		Vector: attack.Vectors(i + 1)[i*attack.Dim:],
		Metadata: map[string]Value{
			"class": String(fmt.Sprint(i % 4)),
			"price": Int(int64(i)),
			"even":  Bool(i%2 == 0),
		},
		Payload: []byte{byte(i)},
	}
}

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error or a clamped correct answer within an allocation bound, never a
// panic. A new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	before := attack.Calls
	collectionCases().Run(t, ".")
	t.Logf("%d hostile calls", attack.Calls-before)
}

// nest returns c wrapped depth times in alternating Not, And and Or.
func nest(c Cond, depth int) Cond {
	for i := range depth {
		switch i % 3 {
		case 0:
			c = Not(c)
		case 1:
			c = And(c)
		default:
			c = Or(c)
		}
	}
	return c
}

func collectionCases() attack.Cases {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const n = 100
	q := attack.Vectors(1)
	nanVec := make([]float32, attack.Dim)
	nanVec[4] = float32(math.NaN())
	infVec := make([]float32, attack.Dim)
	infVec[7] = float32(math.Inf(-1))
	doc := func(key string) Document { return Document{Key: key, Vector: q} }
	withMeta := func(m map[string]Value) Document { return Document{Key: "m", Vector: q, Metadata: m} }
	// Conditions Query and Count must refuse with ErrInvalidConfig.
	badConds := map[string]Cond{
		"Eq zero Value":       Eq("class", Value{}),
		"Eq NaN":              Eq("price", Number(math.NaN())),
		"Eq +Inf":             Eq("price", Number(math.Inf(1))),
		"In with a zero":      In("class", String("1"), Value{}),
		"Range NaN":           Range("price", math.NaN(), 1),
		"Range to NaN":        Range("price", 0, math.NaN()),
		"Less NaN":            Less("price", math.NaN()),
		"AtLeast NaN":         AtLeast("price", math.NaN()),
		"nested bad":          And(Or(Not(Eq("x", Value{})))),
		"too deep":            nest(Eq("class", String("1")), MaxCondDepth+1),
		"far too deep":        nest(Eq("class", String("1")), 100000),
		"And with a bad part": And(Eq("class", String("1")), Range("price", math.NaN(), math.NaN())),
	}
	// nest(c, MaxCondDepth) holds (MaxCondDepth+2)/3 Nots around c,
	// which matches n/4 documents.
	maxDepthWant := n / 4
	if (MaxCondDepth+2)/3%2 == 1 {
		maxDepthWant = n - n/4
	}
	// Conditions that are well formed and must give the count a model
	// of the documents gives (want), on apiCollection(n).
	goodConds := map[string]struct {
		c    Cond
		want int
	}{
		"unknown field":         {Eq("nope", String("1")), 0},
		"empty field name":      {Eq("", String("1")), 0},
		"type mismatch string":  {Eq("price", String("3")), 0},
		"type mismatch number":  {Eq("class", Number(1)), 0},
		"type mismatch bool":    {Eq("price", Bool(true)), 0},
		"range on strings":      {Range("class", math.Inf(-1), math.Inf(1)), 0},
		"empty in":              {In("class"), 0},
		"not empty in":          {Not(In("class")), n},
		"empty and":             {And(), n},
		"empty or":              {Or(), 0},
		"inverted range":        {Range("price", 10, 0), 0},
		"inverted range in and": {And(Eq("even", Bool(true)), Range("price", 10, 0)), 0},
		"open range":            {Range("price", math.Inf(-1), math.Inf(1)), n},
		"Less -Inf":             {Less("price", math.Inf(-1)), 0},
		"AtLeast +Inf":          {AtLeast("price", math.Inf(1)), 0},
		"Less MaxFloat":         {Less("price", math.MaxFloat64), n},
		"zero Cond":             {Cond{}, n},
		"Not zero Cond":         {Not(Cond{}), 0},
		"Eq -0":                 {Eq("price", Number(math.Copysign(0, -1))), 1},
		"huge string":           {Eq("class", String(strings.Repeat("x", 1<<20))), 0},
		"max depth":             {nest(Eq("class", String("1")), MaxCondDepth), maxDepthWant},
		"In duplicates":         {In("class", String("1"), String("1"), String("2")), n / 2},
	}
	return attack.Cases{
		"Open": func(t *testing.T) {
			for name, cfg := range map[string]Config{
				"zero":             {},
				"Dim=-1":           {Dim: -1},
				"Dim=MaxInt":       {Dim: math.MaxInt},
				"Metric=99":        {Dim: 8, Metric: 99},
				"IndexType no New": {Dim: 8, Index: IndexType{Name: "x"}},
				"SegmentBytes=-1":  {Dim: 8, SegmentBytes: -1},
				"Interval=-1":      {Dim: 8, CheckpointInterval: -1},
				"SyncInterval(0)":  {Dim: 8, Sync: durable.SyncInterval(0)},
				"HNSW M=-1":        {Dim: 8, Index: HNSW(hnsw.Config{M: -1})},
				"IVF NList=0":      {Dim: 8, Index: IVF(ivf.Config{}, 0)},
				"IVF NList=-1":     {Dim: 8, Index: IVF(ivf.Config{NList: -1}, -1)},
				"New returns nil": {Dim: 8, Index: IndexType{Name: "nil",
					New:  func(int, distance.Metric) (nearkit.Index, error) { return nil, nil },
					Read: func(io.Reader) (nearkit.Index, error) { return nil, nil }}},
				"New of another dim": {Dim: 8, Index: IndexType{Name: "dim4",
					New:  func(_ int, m distance.Metric) (nearkit.Index, error) { return flat.New(flat.Config{Dim: 4, Metric: m}) },
					Read: func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) }}},
				"New of another metric": {Dim: 8, Index: IndexType{Name: "ip",
					New: func(d int, _ distance.Metric) (nearkit.Index, error) {
						return flat.New(flat.Config{Dim: d, Metric: distance.InnerProduct})
					},
					Read: func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) }}},
			} {
				attack.Bounded(t, "Open "+name, func() {
					c, err := Open(ctx, t.TempDir(), cfg)
					if err == nil {
						c.Close()
					}
					if !errors.Is(err, nearkit.ErrInvalidConfig) {
						t.Errorf("Open with %s: %v, want ErrInvalidConfig", name, err)
					}
				})
			}
			_, err := Open(cancelled, t.TempDir(), Config{Dim: 8})
			attack.Must(t, "Open cancelled", err, context.Canceled)
			dir := t.TempDir()
			c, err := Open(ctx, dir, Config{Dim: attack.Dim, Index: Flat()})
			if err != nil {
				t.Fatal(err)
			}
			_, err = Open(ctx, dir, Config{Dim: attack.Dim, Index: Flat()})
			attack.Must(t, "Open of an open collection", err, durable.ErrLocked)
			c.Upsert(ctx, doc("a"))
			c.Checkpoint(ctx)
			c.Close()
			for name, cfg := range map[string]Config{
				"another dim":    {Dim: attack.Dim + 1, Index: Flat()},
				"another metric": {Dim: attack.Dim, Metric: distance.Cosine, Index: Flat()},
				"another index":  {Dim: attack.Dim, Index: HNSW(hnsw.Config{})},
			} {
				_, err := Open(ctx, dir, cfg)
				attack.Must(t, "reopen as "+name, err, nearkit.ErrIncompatible)
			}
			cfg := Config{Dim: attack.Dim, Index: Flat()}
			cfg.Index.Read = func(io.Reader) (nearkit.Index, error) { return nil, nil }
			_, err = Open(ctx, dir, cfg)
			attack.Must(t, "reopen with a Read returning no index", err, nearkit.ErrInvalidConfig)
		},
		"Collection.Upsert": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			long := strings.Repeat("k", MaxKeyBytes+1)
			for name, d := range map[string]Document{
				"empty key":        doc(""),
				"too long key":     doc(long),
				"field name empty": withMeta(map[string]Value{"": String("x")}),
				"field name long":  withMeta(map[string]Value{long: String("x")}),
				"zero Value":       withMeta(map[string]Value{"f": {}}),
				"NaN number":       withMeta(map[string]Value{"f": Number(math.NaN())}),
				"Inf number":       withMeta(map[string]Value{"f": Number(math.Inf(-1))}),
				"payload too big":  {Key: "p", Vector: q, Payload: make([]byte, MaxPayloadBytes+1)},
			} {
				attack.Must(t, "Upsert with "+name, c.Upsert(ctx, d), nearkit.ErrInvalidConfig)
			}
			tooMany := map[string]Value{}
			for i := range MaxFields + 1 {
				tooMany[fmt.Sprint(i)] = Bool(true)
			}
			attack.Must(t, "Upsert with too many fields", c.Upsert(ctx, withMeta(tooMany)), nearkit.ErrInvalidConfig)
			for name, v := range map[string][]float32{"nil": nil, "empty": {}, "short": q[:attack.Dim-1], "long": attack.Vectors(2)} {
				attack.Must(t, "Upsert of a "+name+" vector", c.Upsert(ctx, Document{Key: "v", Vector: v}), nearkit.ErrDimension)
			}
			attack.Must(t, "Upsert of a NaN vector", c.Upsert(ctx, Document{Key: "v", Vector: nanVec}), nearkit.ErrInvalidVector)
			attack.Must(t, "Upsert of an Inf vector", c.Upsert(ctx, Document{Key: "v", Vector: infVec}), nearkit.ErrInvalidVector)
			attack.Must(t, "Upsert of a key twice", c.Upsert(ctx, doc("d"), doc("d")), nearkit.ErrDuplicateID)
			attack.Must(t, "Upsert with a bad document last", c.Upsert(ctx, doc("ok"), doc("")), nearkit.ErrInvalidConfig)
			attack.Must(t, "Upsert cancelled", c.Upsert(cancelled, doc("c")), context.Canceled)
			attack.Must(t, "Upsert of nothing", c.Upsert(ctx), nil)
			if c.Len() != n || c.Stats().LastLSN != 1 {
				t.Errorf("refused Upserts changed the collection: Len %d, %d records", c.Len(), c.Stats().LastLSN)
			}
			// One payload (or string) passed in many documents: the
			// record would exceed durable.MaxRecordBytes; it must be
			// refused before anything is copied for it.
			big := make([]byte, MaxPayloadBytes)
			bigString := string(big)
			many := make([]Document, durable.MaxRecordBytes/MaxPayloadBytes+1)
			manyMeta := make([]Document, len(many))
			for i := range many {
				many[i] = Document{Key: fmt.Sprint("big", i), Vector: q, Payload: big}
				manyMeta[i] = Document{Key: fmt.Sprint("big", i), Vector: q, Metadata: map[string]Value{"s": String(bigString)}}
			}
			attack.Bounded(t, "Upsert of a shared payload over MaxRecordBytes", func() {
				attack.Must(t, "Upsert over MaxRecordBytes", c.Upsert(ctx, many...), nearkit.ErrInvalidConfig)
			})
			attack.Bounded(t, "Upsert of a shared string over MaxRecordBytes", func() {
				attack.Must(t, "Upsert over MaxRecordBytes", c.Upsert(ctx, manyMeta...), nearkit.ErrInvalidConfig)
			})
			// Edge values accepted and returned as given.
			edge := Document{Key: strings.Repeat("e", MaxKeyBytes), Vector: q, Payload: []byte{},
				Metadata: map[string]Value{"n": Number(-math.MaxFloat64), "z": Number(math.Copysign(0, -1)), "s": String(""), "u": String("\xff\x00")}}
			attack.Must(t, "Upsert of edge values", c.Upsert(ctx, edge), nil)
			got, ok := c.Get(edge.Key)
			if !ok || !sameDoc(got, edge) {
				t.Errorf("edge document came back as %+v %v", got.Metadata, ok)
			}
			if c.Len() != n+1 {
				t.Errorf("Len %d after refused Upserts and one of %d", c.Len(), n)
			}
			c.Close()
			attack.Must(t, "Upsert after Close", c.Upsert(ctx, doc("late")), durable.ErrClosed)
			if _, ok := c.Get("late"); ok {
				t.Error("Upsert after Close stored its document")
			}
		},
		"Collection.Delete": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			attack.Must(t, "Delete of unknown keys", c.Delete(ctx, "nope", "", strings.Repeat("x", MaxKeyBytes+1)), nil)
			attack.Must(t, "Delete of nothing", c.Delete(ctx), nil)
			attack.Must(t, "Delete cancelled", c.Delete(cancelled, "k1"), context.Canceled)
			attack.Must(t, "Delete of a key twice", c.Delete(ctx, "k1", "k1", "k1"), nil)
			if c.Len() != n-1 || c.Stats().LastLSN != 2 {
				t.Errorf("Len %d, %d records after one delete", c.Len(), c.Stats().LastLSN)
			}
			// Many keys, each present, in one call: linear, not
			// quadratic in the keys.
			m := 4000
			if !testing.Short() {
				m = 100000 // 6 s quadratic, 0.1 s linear (AMD EPYC)
			}
			big := apiCollection(t, Flat(), 0)
			docs, keys := make([]Document, m), make([]string, m)
			for i := range docs {
				docs[i], keys[i] = Document{Key: fmt.Sprint(i), Vector: q}, fmt.Sprint(i)
			}
			if err := big.Upsert(ctx, docs...); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			attack.Must(t, "Delete of many keys", big.Delete(ctx, keys...), nil)
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Delete of %d keys took %v", m, took)
			}
			if big.Len() != 0 {
				t.Errorf("%d left after deleting all", big.Len())
			}
			c.Close()
			attack.Must(t, "Delete after Close", c.Delete(ctx, "k2"), durable.ErrClosed)
			if _, ok := c.Get("k2"); !ok {
				t.Error("Delete after Close removed its document")
			}
		},
		"Collection.Query": func(t *testing.T) {
			its := []IndexType{Flat()}
			if !testing.Short() {
				its = append(its, HNSW(hnsw.Config{Seed: 1}), IVF(ivf.Config{NList: 4, Seed: 1}, 50))
			}
			for _, it := range its {
				c := apiCollection(t, it, n)
				for _, k := range []int{0, -1, math.MinInt} {
					_, err := c.Query(ctx, q, k)
					attack.Must(t, fmt.Sprintf("%s Query k=%d", it.Name, k), err, nearkit.ErrInvalidK)
				}
				for name, v := range map[string][]float32{"nil": nil, "empty": {}, "short": q[:1], "long": attack.Vectors(2)} {
					_, err := c.Query(ctx, v, 10)
					attack.Must(t, it.Name+" Query with a "+name+" vector", err, nearkit.ErrDimension)
				}
				_, err := c.Query(ctx, nanVec, 10)
				attack.Must(t, it.Name+" Query with a NaN vector", err, nearkit.ErrInvalidVector)
				_, err = c.Query(ctx, infVec, 10)
				attack.Must(t, it.Name+" Query with an Inf vector", err, nearkit.ErrInvalidVector)
				_, err = c.Query(cancelled, q, 10)
				attack.Must(t, it.Name+" Query cancelled", err, context.Canceled)
				for _, k := range []int{1 << 40, math.MaxInt} {
					attack.Bounded(t, it.Name+" Query huge k", func() {
						hits, err := c.Query(ctx, q, k, WithMetadata(), WithPayload())
						if err != nil || len(hits) < 10 || len(hits) > n {
							t.Errorf("%s Query k=%d: %d hits, %v", it.Name, k, len(hits), err)
						}
					})
					attack.Bounded(t, it.Name+" Query huge k filtered", func() {
						hits, err := c.Query(ctx, q, k, Where(Eq("class", String("1"))))
						if err != nil || len(hits) > n/4 {
							t.Errorf("%s filtered Query k=%d: %d hits, %v", it.Name, k, len(hits), err)
						}
					})
				}
				for _, ef := range []int{-1, 0, math.MaxInt, math.MinInt} {
					attack.Bounded(t, it.Name+" Query with a hostile Ef", func() {
						if hits, err := c.Query(ctx, q, 10, Ef(ef)); err == nil && len(hits) > 10 {
							t.Errorf("%s Query Ef=%d: %d hits", it.Name, ef, len(hits))
						}
					})
				}
				attack.Bounded(t, it.Name+" Query with nil options", func() {
					if hits, err := c.Query(ctx, q, 10, nil, Where(Cond{}), nil); err != nil || len(hits) != 10 {
						t.Errorf("%s Query with nil options: %d hits, %v", it.Name, len(hits), err)
					}
				})
				for name, cond := range badConds {
					attack.Bounded(t, it.Name+" Query where "+name, func() {
						_, err := c.Query(ctx, q, 10, Where(cond))
						attack.Must(t, it.Name+" Query where "+name, err, nearkit.ErrInvalidConfig)
					})
				}
				for name, g := range goodConds {
					attack.Bounded(t, it.Name+" Query where "+name, func() {
						hits, err := c.Query(ctx, q, n, Where(g.c))
						if err != nil || len(hits) > g.want || (it.Name == "flat" && len(hits) != g.want) {
							t.Errorf("%s Query where %s: %d hits (want %d), %v", it.Name, name, len(hits), g.want, err)
						}
					})
				}
				empty := apiCollection(t, it, 0)
				attack.Bounded(t, it.Name+" Query of an empty collection", func() {
					if hits, err := empty.Query(ctx, q, 10, Where(Eq("class", String("1")))); err != nil || len(hits) != 0 {
						t.Errorf("%s Query of an empty collection: %v, %v", it.Name, hits, err)
					}
				})
				c.Close()
				attack.Bounded(t, it.Name+" Query after Close", func() {
					_, err := c.Query(ctx, q, 10)
					attack.Must(t, it.Name+" Query after Close", err, durable.ErrClosed)
				})
			}
		},
		"Collection.Count": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			for name, cond := range badConds {
				attack.Bounded(t, "Count where "+name, func() {
					_, err := c.Count(cond)
					attack.Must(t, "Count where "+name, err, nearkit.ErrInvalidConfig)
				})
			}
			for name, g := range goodConds {
				attack.Bounded(t, "Count where "+name, func() {
					if got, err := c.Count(g.c); err != nil || got != g.want {
						t.Errorf("Count where %s: %d, want %d (%v)", name, got, g.want, err)
					}
				})
			}
			attack.Calls++
			if got, err := apiCollection(t, Flat(), 0).Count(Not(Cond{})); err != nil || got != 0 {
				t.Errorf("Count of an empty collection: %d %v", got, err)
			}
		},
		"Collection.Get": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			for _, k := range []string{"", "nope", "k100", strings.Repeat("k", MaxKeyBytes+1), "k1\x00"} {
				attack.Calls++
				if d, ok := c.Get(k); ok || d.Key != "" {
					t.Errorf("Get(%.10q): %v %v", k, d.Key, ok)
				}
			}
			// A copy: changing it changes nothing stored.
			d, _ := c.Get("k3")
			d.Vector[0], d.Payload[0], d.Metadata["class"] = 99, 99, String("changed")
			attack.Calls++
			if e, _ := c.Get("k3"); !sameDoc(e, apiDoc(3)) {
				t.Error("Get returned storage the caller can change")
			}
		},
		"Collection.All": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			attack.Bounded(t, "All with writes in the loop", func() {
				seen := 0
				for k := range c.All() {
					seen++
					if err := c.Delete(ctx, k); err != nil {
						t.Errorf("Delete in All: %v", err)
					}
				}
				if seen != n || c.Len() != 0 {
					t.Errorf("All saw %d of %d, %d left", seen, n, c.Len())
				}
			})
			attack.Bounded(t, "All stopped early", func() {
				for range apiCollection(t, Flat(), 3).All() {
					break
				}
			})
		},
		"Collection.Checkpoint": func(t *testing.T) {
			dir := t.TempDir()
			c, err := Open(ctx, dir, Config{Dim: attack.Dim, Index: Flat(), Sync: durable.SyncNever, CheckpointBytes: -1})
			if err != nil {
				t.Fatal(err)
			}
			attack.Must(t, "Checkpoint cancelled", c.Checkpoint(cancelled), context.Canceled)
			attack.Must(t, "Checkpoint of nothing", c.Checkpoint(ctx), nil)
			// Checkpoints racing writers: a reopen finds every write.
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := range 25 {
						if err := c.Upsert(ctx, apiDoc(w*25+i)); err != nil {
							t.Errorf("Upsert during checkpoints: %v", err)
						}
					}
				})
			}
			var ckErr error
			for range 10 {
				if err := c.Checkpoint(ctx); err != nil && ckErr == nil {
					ckErr = err
				}
			}
			wg.Wait()
			attack.Must(t, "Checkpoint concurrently with writers", ckErr, nil)
			c.Close()
			attack.Must(t, "Checkpoint after Close", c.Checkpoint(ctx), durable.ErrClosed)
			d, err := Open(ctx, dir, Config{Dim: attack.Dim, Index: Flat()})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if got, err := d.Count(Eq("class", String("1"))); d.Len() != n || got != n/4 || err != nil {
				t.Errorf("reopened with %d documents, %d of class 1 (%v)", d.Len(), got, err)
			}
		},
		"Collection.Sync": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			attack.Must(t, "Sync", c.Sync(), nil)
			c.Close()
			attack.Must(t, "Sync after Close", c.Sync(), durable.ErrClosed)
		},
		"Collection.Close": func(t *testing.T) {
			for _, it := range []IndexType{Flat(), HNSW(hnsw.Config{Seed: 1}), IVF(ivf.Config{NList: 2, Seed: 1}, 20)} {
				c := apiCollection(t, it, 30)
				attack.Must(t, it.Name+" Close", c.Close(), nil)
				attack.Must(t, it.Name+" Close twice", c.Close(), durable.ErrClosed)
			}
		},
		// The accessors take no arguments; Collection.Len's case calls
		// them all on an open and a closed collection.
		"Collection.Len": func(t *testing.T) {
			c := apiCollection(t, Flat(), n)
			for range 2 {
				attack.Bounded(t, "accessors", func() {
					if c.Len() != n || c.Stats().LastLSN != 1 || c.Recovery().Replayed != 0 {
						t.Errorf("Len %d, Stats %+v, Recovery %+v", c.Len(), c.Stats(), c.Recovery())
					}
				})
				c.Close()
			}
		},
		"Collection.Stats":    nil,
		"Collection.Recovery": nil,
		// The constructors only record their arguments; Query and Count
		// check them (badConds, goodConds), and Cond.String renders any.
		"Eq":      nil,
		"In":      nil,
		"Range":   nil,
		"Less":    nil,
		"AtLeast": nil,
		"And":     nil,
		"Or":      nil,
		"Not":     nil,
		"Cond.String": func(t *testing.T) {
			for name, cond := range badConds {
				attack.Bounded(t, "String of "+name, func() {
					if s := cond.String(); s == "" {
						t.Errorf("no text for %s", name)
					}
				})
			}
			for name, g := range goodConds {
				attack.Bounded(t, "String of "+name, func() {
					if s := g.c.String(); s == "" {
						t.Errorf("no text for %s", name)
					}
				})
			}
		},
		"Where":        nil,
		"WithMetadata": nil,
		"WithPayload":  nil,
		"Ef":           nil, // hostile Ef values: Collection.Query's case
		// IndexTypes with hostile parameters: Open's case.
		"HNSW": nil,
		"IVF":  nil,
		"Flat": nil,
		"Number": func(t *testing.T) {
			for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				v := Number(f)
				attack.Calls++
				if v.Kind() != KindNumber || v.String() == "" {
					t.Errorf("Number(%v): %v %q", f, v.Kind(), v.String())
				}
			}
		},
		"Int": func(t *testing.T) {
			for _, i := range []int64{math.MinInt64, math.MaxInt64, 1<<53 + 1} {
				attack.Calls++
				if v := Int(i); v.Kind() != KindNumber || v.AsNumber() != float64(i) {
					t.Errorf("Int(%d) = %v", i, v)
				}
			}
		},
		"String": func(t *testing.T) {
			attack.Calls++
			if v := String("\xff"); v.AsString() != "\xff" || v.AsNumber() != 0 || v.AsBool() {
				t.Errorf("String: %v", v)
			}
		},
		"Bool": func(t *testing.T) {
			attack.Calls++
			if !Bool(true).AsBool() || Bool(false).AsBool() || Bool(true).AsNumber() != 0 {
				t.Error("Bool")
			}
		},
		// The accessors of the zero Value, the one a caller can make
		// that no constructor does.
		"Value.Kind": func(t *testing.T) {
			var v Value
			attack.Calls++
			if v.Kind() != 0 || v.AsString() != "" || v.AsNumber() != 0 || v.AsBool() || v.String() == "" {
				t.Errorf("zero Value: %v %q %v %v %q", v.Kind(), v.AsString(), v.AsNumber(), v.AsBool(), v.String())
			}
		},
		"Value.AsString": nil,
		"Value.AsNumber": nil,
		"Value.AsBool":   nil,
		"Value.String":   nil,
	}
}
