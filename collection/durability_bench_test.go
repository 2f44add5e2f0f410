package collection

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
)

// BenchmarkCheckpointStall checkpoints an HNSW collection of 20,000
// 384-d documents (two metadata fields and a payload each) while 4
// writers keep replacing documents, and measures what the writers feel:
// each Upsert's latency is recorded, and the slowest of those that
// overlapped the checkpoint (stall-max-ms) is set beside the slowest in
// an equal stretch just before it (base-max-ms), with the p99 of both.
// pause-ms is Stats.LastCheckpointPause, the time writers were held off;
// first-pause-ms that of the first checkpoint, which has no earlier
// snapshot to size its buffer by; total-ms the whole checkpoint.
func BenchmarkCheckpointStall(b *testing.B) {
	const dim, n, writers = 384, 20_000, 4
	ctx := context.Background()
	c, err := Open(ctx, b.TempDir(), Config{Dim: dim, Index: HNSW(hnsw.Config{Seed: 1}), Sync: durable.SyncNever, CheckpointBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	mkdoc := func(rng *rand.Rand, i int) Document {
		v := make([]float32, dim)
		for j := range v {
			v[j] = rng.Float32()
		}
		return Document{Key: fmt.Sprint("k", i), Vector: v, Payload: []byte("payload"),
			Metadata: map[string]Value{"class": String(fmt.Sprint(i % 10)), "price": Number(float64(i % 100))}}
	}
	for lo := 0; lo < n; lo += 1000 {
		var docs []Document
		for i := lo; i < lo+1000; i++ {
			docs = append(docs, mkdoc(rng, i))
		}
		if err := c.Upsert(ctx, docs...); err != nil {
			b.Fatal(err)
		}
	}
	type op struct{ start, end time.Time }
	var pause, total, firstPause time.Duration
	var stallMax, baseMax, stallP99, baseP99 time.Duration
	iter := 0
	for b.Loop() {
		var stop atomic.Bool
		var wg sync.WaitGroup
		ops := make([][]op, writers)
		for w := range writers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(iter), uint64(w)))
				for !stop.Load() {
					d := mkdoc(rng, rng.IntN(n))
					t := time.Now()
					if err := c.Upsert(ctx, d); err != nil {
						b.Error(err)
						return
					}
					ops[w] = append(ops[w], op{t, time.Now()})
				}
			})
		}
		const before = 300 * time.Millisecond
		time.Sleep(before)
		ck := time.Now()
		if err := c.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		ckEnd := time.Now()
		stop.Store(true)
		wg.Wait()
		st := c.Stats()
		if iter == 0 {
			firstPause = st.LastCheckpointPause
		}
		pause += st.LastCheckpointPause
		total += st.LastCheckpointDuration
		// Writers' latencies during the checkpoint, and during as long a
		// stretch before it (but after the writers warmed up).
		span := ckEnd.Sub(ck)
		var during, base []time.Duration
		for _, w := range ops {
			for _, o := range w {
				d := o.end.Sub(o.start)
				switch {
				case o.end.After(ck) && o.start.Before(ckEnd):
					during = append(during, d)
				case o.end.Before(ck) && o.start.After(ck.Add(-min(span, before*2/3))):
					base = append(base, d)
				}
			}
		}
		sm, sp := maxP99(during)
		bm, bp := maxP99(base)
		stallMax, stallP99 = max(stallMax, sm), max(stallP99, sp)
		baseMax, baseP99 = max(baseMax, bm), max(baseP99, bp)
		iter++
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	b.ReportMetric(ms(pause)/float64(iter), "pause-ms")
	b.ReportMetric(ms(firstPause), "first-pause-ms")
	b.ReportMetric(ms(total)/float64(iter), "total-ms")
	b.ReportMetric(ms(stallMax), "stall-max-ms")
	b.ReportMetric(ms(stallP99), "stall-p99-ms")
	b.ReportMetric(ms(baseMax), "base-max-ms")
	b.ReportMetric(ms(baseP99), "base-p99-ms")
}

func maxP99(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	return ds[len(ds)-1], ds[len(ds)*99/100]
}

// BenchmarkRecovery measures Open replaying a log of 100,000 single-
// document Upserts (16-d vectors, two metadata fields, a flat index) with
// no snapshot; s/Mrecords is the time per million records.
func BenchmarkRecovery(b *testing.B) {
	const dim, n = 16, 100_000
	ctx := context.Background()
	dir := b.TempDir()
	cfg := Config{Dim: dim, Index: Flat(), Sync: durable.SyncNever, CheckpointBytes: -1}
	c, err := Open(ctx, dir, cfg)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range n {
		v := make([]float32, dim)
		for j := range v {
			v[j] = rng.Float32()
		}
		d := Document{Key: fmt.Sprint("doc-", i), Vector: v,
			Metadata: map[string]Value{"class": String(fmt.Sprint(i % 10)), "price": Number(float64(i % 100))}}
		if err := c.Upsert(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	for b.Loop() {
		c, err := Open(ctx, dir, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if r := c.Recovery(); r.Replayed != n {
			b.Fatalf("replayed %d", r.Replayed)
		}
		took += c.Recovery().Duration
		c.Close()
	}
	b.ReportMetric(took.Seconds()/float64(b.N)*1e6/n, "s/Mrecords")
}

// BenchmarkUpsertWriters measures single-document Upsert throughput of
// 768-d documents with SyncAlways at 1, 4 and 16 concurrent writers over
// a flat index, as durable's BenchmarkSyncAlwaysWriters does for a bare
// index: bursts at each writer count alternate, each on its own
// collection, so x16/x1 (the group-commit gain, through the ordering of
// ID hand-out and append) is paired. Set NEARKIT_BENCH_DIR to put the
// logs on the disk under test.
func BenchmarkUpsertWriters(b *testing.B) {
	const dim = 768
	const burst = 200 * time.Millisecond
	ctx := context.Background()
	counts := []int{1, 4, 16}
	colls := make([]*Collection, len(counts))
	for i := range counts {
		dir := b.TempDir()
		if d := os.Getenv("NEARKIT_BENCH_DIR"); d != "" {
			var err error
			if dir, err = os.MkdirTemp(d, "collection-bench-"); err != nil {
				b.Fatal(err)
			}
			defer os.RemoveAll(dir)
		}
		c, err := Open(ctx, dir, Config{Dim: dim, Index: Flat(), CheckpointBytes: -1})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		colls[i] = c
	}
	rng := rand.New(rand.NewPCG(8, 8))
	vecs := make([][]float32, 256)
	for i := range vecs {
		vecs[i] = make([]float32, dim)
		for j := range vecs[i] {
			vecs[i][j] = rng.Float32()
		}
	}
	writes := make([]int64, len(counts))
	var next atomic.Uint64
	for b.Loop() {
		for i, writers := range counts {
			c := colls[i]
			var n atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for time.Since(start) < burst {
						id := next.Add(1)
						d := Document{Key: fmt.Sprint("doc-", id), Vector: vecs[id%256],
							Metadata: map[string]Value{"class": String(fmt.Sprint(id % 10))}}
						if err := c.Upsert(ctx, d); err != nil {
							b.Error(err)
							return
						}
						n.Add(1)
					}
				})
			}
			wg.Wait()
			writes[i] += n.Load()
		}
	}
	rate := func(i int) float64 { return float64(writes[i]) / (float64(b.N) * burst.Seconds()) }
	for i, w := range counts {
		b.ReportMetric(rate(i), fmt.Sprintf("upserts/s-%d", w))
	}
	b.ReportMetric(rate(2)/rate(0), "x16/x1")
	st := colls[2].Stats()
	b.ReportMetric(float64(st.SyncedRecords)/float64(max(st.Fsyncs, 1)), "records/fsync-16")
}
