package collection

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
)

// The query benchmarks load Fashion-MNIST (the Debian package
// dataset-fashion-mnist; skipped without it) into an HNSW collection and
// an exact (flat) one, with the class label as a string field "class" and
// a synthetic uniform number in [0, 1) as "u", and query both with the
// same conditions: the flat collection's answer is the ground truth.
const benchQueries = 200

type fashionBench struct {
	hnsw, flat *Collection
	queries    [][]float32
	err        error
}

var (
	fashionOnce sync.Once
	fashion     fashionBench
)

func loadFashion(b *testing.B) *fashionBench {
	fashionOnce.Do(func() {
		ds, err := dataset.Load("fashion-mnist", dataset.Options{Metric: distance.L2, Queries: benchQueries})
		if err != nil {
			fashion.err = err
			return
		}
		labels, err := readLabels(filepath.Join(dataset.FashionMNISTDir, "train-labels-idx1-ubyte.gz"), ds.N())
		if err != nil {
			fashion.err = err
			return
		}
		dir, err := os.MkdirTemp("", "collection-bench-")
		if err != nil {
			fashion.err = err
			return
		}
		rng := rand.New(rand.NewPCG(1, 1))
		docs := make([]Document, ds.N())
		for i := range docs {
			docs[i] = Document{
				Key:    fmt.Sprintf("img-%d", i),
				Vector: ds.Base[i*ds.Dim : (i+1)*ds.Dim],
				Metadata: map[string]Value{
					"class": String(fmt.Sprint(labels[i])),
					"u":     Number(rng.Float64()),
				},
			}
		}
		for _, it := range []IndexType{HNSW(hnsw.Config{M: 16, EfConstruction: 100, Seed: 1}), Flat()} {
			c, err := Open(context.Background(), filepath.Join(dir, it.Name), Config{Dim: ds.Dim, Index: it, Sync: durable.SyncNever, CheckpointBytes: -1})
			if err != nil {
				fashion.err = err
				return
			}
			for lo := 0; lo < len(docs); lo += 5000 {
				if err := c.Upsert(context.Background(), docs[lo:min(lo+5000, len(docs))]...); err != nil {
					fashion.err = err
					return
				}
			}
			if it.Name == "flat" {
				fashion.flat = c
			} else {
				fashion.hnsw = c
			}
		}
		for i := range ds.NQ() {
			fashion.queries = append(fashion.queries, ds.Queries[i*ds.Dim:(i+1)*ds.Dim])
		}
	})
	if fashion.err != nil {
		b.Skip(fashion.err)
	}
	return &fashion
}

// readLabels reads an IDX1 label file (gzip'ed): magic 0x00000801, u32
// count (big-endian), count bytes.
func readLabels(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, err
	}
	var h [8]byte
	if _, err := io.ReadFull(z, h[:]); err != nil {
		return nil, err
	}
	if h[2] != 8 || h[3] != 1 {
		return nil, fmt.Errorf("%s: not an IDX1 label file", path)
	}
	labels := make([]byte, n)
	_, err = io.ReadFull(z, labels)
	return labels, err
}

// BenchmarkFilteredQuery reports recall@10 against the exact answer,
// latency, and how often a query returned fewer than k hits although at
// least k documents matched (short-%), at selectivities from 50 % to
// 0.1 %.
func BenchmarkFilteredQuery(b *testing.B) {
	fb := loadFashion(b)
	conds := []struct {
		name string
		c    Cond
	}{
		{"sel=50%", Less("u", 0.5)},
		{"sel=10%-class", Eq("class", String("3"))},
		{"sel=10%-range", Less("u", 0.1)},
		{"sel=1%", And(Eq("class", String("3")), Less("u", 0.1))},
		{"sel=1%-or", Or(And(Eq("class", String("1")), Less("u", 0.05)), And(Eq("class", String("7")), AtLeast("u", 0.95)))},
		{"sel=0.1%", And(Eq("class", String("3")), Less("u", 0.01))},
	}
	const k = 10
	for _, cc := range conds {
		for _, ef := range []int{64, 128} {
			b.Run(fmt.Sprintf("%s/ef=%d", cc.name, ef), func(b *testing.B) {
				ctx := context.Background()
				truth := make([]map[string]bool, len(fb.queries))
				for i, q := range fb.queries {
					hits, err := fb.flat.Query(ctx, q, k, Where(cc.c))
					if err != nil {
						b.Fatal(err)
					}
					truth[i] = map[string]bool{}
					for _, h := range hits {
						truth[i][h.Key] = true
					}
				}
				matching, _ := fb.hnsw.Count(cc.c)
				found, want, short, queries := 0, 0, 0, 0
				var took time.Duration
				i := 0
				for b.Loop() {
					q := fb.queries[i%len(fb.queries)]
					t := time.Now()
					hits, err := fb.hnsw.Query(ctx, q, k, Where(cc.c), Ef(ef))
					took += time.Since(t)
					if err != nil {
						b.Fatal(err)
					}
					for _, h := range hits {
						if truth[i%len(fb.queries)][h.Key] {
							found++
						}
					}
					want += len(truth[i%len(fb.queries)])
					if len(hits) < min(k, matching) {
						short++
					}
					queries++
					i++
				}
				b.ReportMetric(float64(found)/float64(max(want, 1)), "recall@10")
				b.ReportMetric(float64(took.Microseconds())/float64(queries), "µs/query")
				b.ReportMetric(100*float64(short)/float64(queries), "short-%")
				b.ReportMetric(100*float64(matching)/float64(fb.hnsw.Len()), "selectivity-%")
			})
		}
	}
}

// BenchmarkQueryOverhead compares Collection.Query with a search of the
// bare index under it (c's own HNSW index, the same filter handed over as
// a nearkit.AllowList built beforehand), alternating query by query so
// the ratio is paired: the collection's costs are compiling the
// condition, the locks and building Hits with keys.
func BenchmarkQueryOverhead(b *testing.B) {
	fb := loadFashion(b)
	for _, cc := range []struct {
		name string
		c    Cond
	}{{"unfiltered", Cond{}}, {"sel=10%", Eq("class", String("3"))}, {"sel=1%", And(Eq("class", String("3")), Less("u", 0.1))}} {
		b.Run(cc.name, func(b *testing.B) {
			ctx := context.Background()
			c := fb.hnsw
			var opts nearkit.SearchOptions
			opts.Ef = 64
			if cc.c.op != condAll {
				c.mu.RLock()
				opts.Filter, _ = c.compile(cc.c)
				c.mu.RUnlock()
			}
			var tColl, tBare time.Duration
			var dst []nearkit.Result
			i := 0
			coll := func(q []float32) {
				t := time.Now()
				if _, err := c.Query(ctx, q, 10, Where(cc.c), Ef(64)); err != nil {
					b.Fatal(err)
				}
				tColl += time.Since(t)
			}
			bare := func(q []float32) {
				t := time.Now()
				var err error
				if dst, err = c.idx.Search(dst[:0], q, 10, opts); err != nil {
					b.Fatal(err)
				}
				tBare += time.Since(t)
			}
			for b.Loop() {
				// The second search of a query finds the graph in cache:
				// which goes first alternates.
				q := fb.queries[i%len(fb.queries)]
				if i%2 == 0 {
					coll(q)
					bare(q)
				} else {
					bare(q)
					coll(q)
				}
				i++
			}
			b.ReportMetric(float64(tColl.Microseconds())/float64(i), "collection-µs")
			b.ReportMetric(float64(tBare.Microseconds())/float64(i), "bare-µs")
			b.ReportMetric(100*(float64(tColl)/float64(tBare)-1), "overhead-%")
		})
	}
}
