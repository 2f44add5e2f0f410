package durable

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
)

// Benchmarks write where NEARKIT_BENCH_DIR points (default: the test's
// temporary directory): fsync costs are the disk's, so say which disk.
func benchDir(b *testing.B) string {
	if d := os.Getenv("NEARKIT_BENCH_DIR"); d != "" {
		dir, err := os.MkdirTemp(d, "durable-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	return b.TempDir()
}

func dimConfig(dim int, opts Options) Config {
	return Config{
		New:     func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: dim, Metric: distance.L2}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) },
		Options: opts,
	}
}

func randVecs(n, dim int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = rng.Float32()
	}
	return v
}

// BenchmarkSyncAlwaysWriters measures Add throughput of 768-d vectors with
// SyncAlways at 1, 4 and 16 concurrent writers over a flat index, whose
// Add is a copy: the rate is the log's. Each iteration runs a burst of
// burst at every writer count in turn, each on its own store, so the
// counts alternate and their ratio (x16/x1) is paired even on a machine
// whose load drifts. records/fsync-16 is the group-commit factor.
func BenchmarkSyncAlwaysWriters(b *testing.B) {
	const dim = 768
	const burst = 200 * time.Millisecond
	vecs := randVecs(256, dim, 1)
	counts := []int{1, 4, 16}
	stores := make([]*Index, len(counts))
	for i := range counts {
		x, err := OpenIndex(context.Background(), benchDir(b), dimConfig(dim, Options{CheckpointBytes: -1}))
		if err != nil {
			b.Fatal(err)
		}
		defer x.Close()
		stores[i] = x
	}
	writes := make([]int64, len(counts))
	var next atomic.Uint64
	for b.Loop() {
		for i, writers := range counts {
			x := stores[i]
			var n atomic.Int64
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Go(func() {
					for time.Since(start) < burst {
						id := next.Add(1)
						if err := x.Add(id, vecs[int(id%256)*dim:][:dim]); err != nil {
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
		b.ReportMetric(rate(i), fmt.Sprintf("writes/s-%d", w))
	}
	b.ReportMetric(rate(2)/rate(0), "x16/x1")
	st := stores[2].Stats()
	b.ReportMetric(float64(st.SyncedRecords)/float64(max(st.Fsyncs, 1)), "records/fsync-16")
	b.ReportMetric(float64(stores[0].Stats().FsyncLatency.Mean().Microseconds()), "fsync-µs-1")
	b.ReportMetric(float64(st.FsyncLatency.Mean().Microseconds()), "fsync-µs-16")
}

// BenchmarkOverhead compares Add into a bare index with Add through the
// log (SyncNever, or SyncInterval(10ms)) into an identical index: each
// iteration adds the same chunk of 768-d vectors to both, timing each, so
// the ratio (overhead-%) is paired. The indexes are HNSW (where the issue's
// ≤ 10 % applies) and flat (where Add is a copy, so the log's own cost
// shows whole).
func BenchmarkOverhead(b *testing.B) {
	const dim, pool, chunk = 768, 2048, 20
	vecs := randVecs(pool, dim, 2)
	kinds := []struct {
		name string
		new  func() (nearkit.Index, error)
		read func(io.Reader) (nearkit.Index, error)
	}{
		{"hnsw", func() (nearkit.Index, error) { return hnsw.New(hnsw.Config{Dim: dim, Seed: 1}) },
			func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) }},
		{"flat", func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: dim}) },
			func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) }},
	}
	for _, k := range kinds {
		for _, p := range []SyncPolicy{SyncNever, SyncInterval(10 * time.Millisecond)} {
			b.Run(fmt.Sprintf("index=%s/sync=%v", k.name, p), func(b *testing.B) {
				bare, err := k.new()
				if err != nil {
					b.Fatal(err)
				}
				logged, err := OpenIndex(context.Background(), benchDir(b), Config{New: k.new, Read: k.read, Options: Options{Sync: p, CheckpointBytes: -1}})
				if err != nil {
					b.Fatal(err)
				}
				defer logged.Close()
				var tBare, tLogged time.Duration
				id := uint64(0)
				add := func(x nearkit.Index, from uint64) time.Duration {
					t := time.Now()
					for i := from; i < from+chunk; i++ {
						if err := x.Add(i, vecs[int(i%pool)*dim:][:dim]); err != nil {
							b.Fatal(err)
						}
					}
					return time.Since(t)
				}
				for b.Loop() {
					// Alternate which goes first, so neither always runs on
					// a cache the other warmed.
					if id/chunk%2 == 0 {
						tBare += add(bare, id)
						tLogged += add(logged, id)
					} else {
						tLogged += add(logged, id)
						tBare += add(bare, id)
					}
					id += chunk
				}
				b.ReportMetric(float64(tBare.Nanoseconds())/float64(id), "bare-ns/add")
				b.ReportMetric(float64(tLogged.Nanoseconds())/float64(id), "logged-ns/add")
				b.ReportMetric(100*(float64(tLogged)/float64(tBare)-1), "overhead-%")
			})
		}
	}
}

// BenchmarkRecovery measures Open replaying a log of 100,000 Add records
// of 16-d vectors (flat index) with no snapshot; s/Mrecords is the time
// per million records.
func BenchmarkRecovery(b *testing.B) {
	const dim, n = 16, 100_000
	dir := benchDir(b)
	opts := Options{Sync: SyncNever, CheckpointBytes: -1}
	x, err := OpenIndex(context.Background(), dir, dimConfig(dim, opts))
	if err != nil {
		b.Fatal(err)
	}
	vecs := randVecs(1024, dim, 3)
	for i := range n {
		if err := x.Add(uint64(i), vecs[(i%1024)*dim:][:dim]); err != nil {
			b.Fatal(err)
		}
	}
	x.Close()
	var took time.Duration
	for b.Loop() {
		y, err := OpenIndex(context.Background(), dir, dimConfig(dim, opts))
		if err != nil {
			b.Fatal(err)
		}
		if y.Recovery().Replayed != n {
			b.Fatalf("replayed %d", y.Recovery().Replayed)
		}
		took += y.Recovery().Duration
		y.Close()
	}
	b.ReportMetric(took.Seconds()/float64(b.N)*1e6/n, "s/Mrecords")
}

// BenchmarkCheckpointPause checkpoints an HNSW index of 20,000 384-d
// vectors while 4 writers keep adding, and reports how long writers were
// held off (pause-ms, Stats.LastCheckpointPause), the checkpoint's whole
// duration (total-ms) and the slowest single Add seen during it
// (max-add-ms).
func BenchmarkCheckpointPause(b *testing.B) {
	const dim, n = 384, 20_000
	cfg := Config{
		New:     func() (nearkit.Index, error) { return hnsw.New(hnsw.Config{Dim: dim, Seed: 1}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
		Options: Options{Sync: SyncInterval(5 * time.Millisecond), CheckpointBytes: -1},
	}
	x, err := OpenIndex(context.Background(), benchDir(b), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	vecs := randVecs(n, dim, 4)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
		b.Fatal(err)
	}
	var pause, total time.Duration
	var worst atomic.Int64
	next := atomic.Uint64{}
	next.Store(n)
	for b.Loop() {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					id := next.Add(1)
					t := time.Now()
					if err := x.Add(id, vecs[int(id%n)*dim:][:dim]); err != nil {
						b.Error(err)
						return
					}
					if d := int64(time.Since(t)); d > worst.Load() {
						worst.Store(d)
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		if err := x.Checkpoint(context.Background()); err != nil {
			b.Fatal(err)
		}
		close(stop)
		wg.Wait()
		st := x.Stats()
		pause += st.LastCheckpointPause
		total += st.LastCheckpointDuration
	}
	b.ReportMetric(float64(pause.Microseconds())/1e3/float64(b.N), "pause-ms")
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "total-ms")
	b.ReportMetric(float64(worst.Load())/1e6, "max-add-ms")
}

// BenchmarkCheckpointWriters checkpoints an HNSW index of 100,000
// 128-d vectors (M=16, EfConstruction=64) under SyncAlways while 4
// writers keep adding, and reports what the writers feel: the p50, p99
// and max latency of the Adds that overlapped the checkpoint (ck-p50-ms,
// ck-p99-ms, ck-max-ms) beside those of the Adds in an equal stretch just
// before it (base-…), the pause (pause-ms, Stats.LastCheckpointPause),
// the whole checkpoint (total-ms), and how long the index's WriteTo to
// memory takes alone (writeto-ms, measured between checkpoints with no
// writer running), which is the floor of the pause: hnsw's WriteTo holds
// its writers off while it runs, and the checkpoint needs exactly the
// records up to one LSN in the snapshot.
func BenchmarkCheckpointWriters(b *testing.B) {
	const dim, n, writers = 128, 100_000, 4
	cfg := Config{
		New: func() (nearkit.Index, error) {
			return hnsw.New(hnsw.Config{Dim: dim, M: 16, EfConstruction: 64, Seed: 1})
		},
		Read:    func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
		Options: Options{Sync: SyncAlways, CheckpointBytes: -1},
	}
	x, err := OpenIndex(context.Background(), benchDir(b), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	vecs := randVecs(n, dim, 4)
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
		b.Fatal(err)
	}
	// A first checkpoint, so that the measured ones reserve their buffer
	// from the size of the last (the steady state).
	if err := x.Checkpoint(context.Background()); err != nil {
		b.Fatal(err)
	}
	type op struct{ start, end time.Time }
	var during, base []time.Duration
	var pause, total, writeTo time.Duration
	next := atomic.Uint64{}
	next.Store(n)
	iters := 0
	for b.Loop() {
		var cw chunks
		t := time.Now()
		x.Unwrap().WriteTo(&cw)
		writeTo += time.Since(t)

		var stop atomic.Bool
		var wg sync.WaitGroup
		ops := make([][]op, writers)
		for w := range writers {
			wg.Go(func() {
				for !stop.Load() {
					id := next.Add(1)
					t := time.Now()
					if err := x.Add(id, vecs[int(id%n)*dim:][:dim]); err != nil {
						b.Error(err)
						return
					}
					ops[w] = append(ops[w], op{t, time.Now()})
				}
			})
		}
		const warm = 500 * time.Millisecond
		time.Sleep(warm)
		ck := time.Now()
		if err := x.Checkpoint(context.Background()); err != nil {
			b.Fatal(err)
		}
		ckEnd := time.Now()
		// As long a stretch after it as before, so base has as many Adds.
		time.Sleep(min(ckEnd.Sub(ck), warm))
		stop.Store(true)
		wg.Wait()
		st := x.Stats()
		pause += st.LastCheckpointPause
		total += st.LastCheckpointDuration
		span := ckEnd.Sub(ck)
		for _, w := range ops {
			for _, o := range w {
				d := o.end.Sub(o.start)
				switch {
				case o.end.After(ck) && o.start.Before(ckEnd):
					during = append(during, d)
				case o.end.Before(ck) && o.start.After(ck.Add(-min(span, warm*2/3))):
					base = append(base, d)
				}
			}
		}
		iters++
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
	q := func(ds []time.Duration, p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[min(int(float64(len(ds))*p), len(ds)-1)]
	}
	b.ReportMetric(ms(pause)/float64(iters), "pause-ms")
	b.ReportMetric(ms(total)/float64(iters), "total-ms")
	b.ReportMetric(ms(writeTo)/float64(iters), "writeto-ms")
	b.ReportMetric(ms(q(during, 0.5)), "ck-p50-ms")
	b.ReportMetric(ms(q(during, 0.99)), "ck-p99-ms")
	b.ReportMetric(ms(q(during, 1)), "ck-max-ms")
	b.ReportMetric(ms(q(base, 0.5)), "base-p50-ms")
	b.ReportMetric(ms(q(base, 0.99)), "base-p99-ms")
	b.ReportMetric(ms(q(base, 1)), "base-max-ms")
}

// nopState is a State with nothing in it, so a benchmark of Commit
// measures the log alone.
type nopState struct{}

func (nopState) Restore(io.Reader) error            { return nil }
func (nopState) Replay([]byte) error                { return nil }
func (nopState) WriteTo(w io.Writer) (int64, error) { return 0, nil }

// BenchmarkCommitPath measures SyncAlways Commit of a 3,081-byte record
// (an Add of a 768-d vector) into a state that does nothing, at 1 and 16
// writers: the log's own per-record path (CRC, framing, write, fsync,
// wake-ups) without an index's Add. Run it on tmpfs
// (NEARKIT_BENCH_DIR=/dev/shm), where fsync costs nothing, to see the CPU
// part alone; allocs/op should be 0 at one writer.
func BenchmarkCommitPath(b *testing.B) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			st, err := Open(context.Background(), benchDir(b), Options{CheckpointBytes: -1}, nopState{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			rec := make([]byte, 1+8+4*768)
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			var wg sync.WaitGroup
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						if err := st.Commit(rec, nil); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			s := st.Stats()
			b.ReportMetric(float64(s.SyncedRecords)/float64(max(s.Fsyncs, 1)), "records/fsync")
		})
	}
}
