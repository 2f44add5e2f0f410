package durable

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/internal/attack"
)

// apiConfig is the durable flat index of dimension attack.Dim the suite
// attacks. SyncNever keeps the suite light: the sync policies have their
// own tests, and every hostile call is refused before the policy matters.
func apiConfig(opts Options) Config {
	return Config{
		New:     func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: attack.Dim, Metric: distance.L2}) },
		Read:    func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) },
		Options: opts,
	}
}

// apiIndex opens a fresh durable index holding attack.Vectors(n) under
// attack.IDs(n), closed when the test ends.
func apiIndex(t *testing.T, n int) *Index {
	t.Helper()
	x, err := OpenIndex(context.Background(), t.TempDir(), apiConfig(Options{Sync: SyncNever}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	if n > 0 {
		if err := x.AddBatch(context.Background(), attack.IDs(n), attack.Vectors(n)); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error (the root sentinels, ErrClosed, ErrLocked) or a clamped correct
// answer within an allocation bound, never a panic. A new exported
// function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	before := attack.Calls
	cases := attack.IndexCases(func(t *testing.T, n int) nearkit.Index { return apiIndex(t, n) })
	// Index has no SearchWithStats: searches go straight to the wrapped
	// index, whose own suite attacks it.
	delete(cases, "Index.SearchWithStats")
	for name, c := range durableCases() {
		cases[name] = c
	}
	cases.Run(t, ".")
	t.Logf("%d hostile calls", attack.Calls-before)
}

// nopStore opens a Store over a state that ignores its records, closed
// when the test ends.
func nopStore(t *testing.T, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), opts, nopState{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// bigState is a state whose snapshots are size zero bytes.
type bigState struct {
	nopState
	size int64
}

func (b bigState) WriteTo(w io.Writer) (int64, error) {
	return io.CopyN(w, zeros{}, b.size)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// closedIndex returns an index holding n vectors, closed.
func closedIndex(t *testing.T, n int) *Index {
	x := apiIndex(t, n)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	return x
}

func durableCases() attack.Cases {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const n = 100
	ids, vecs := attack.IDs(n), attack.Vectors(n)
	q := vecs[:attack.Dim]
	nan := make([]float32, attack.Dim)
	nan[2] = float32(math.NaN())
	inf := make([]float32, attack.Dim)
	inf[0] = float32(math.Inf(1))
	badOptions := map[string]Options{
		"SegmentBytes=-1":       {SegmentBytes: -1},
		"SegmentBytes=MinInt64": {SegmentBytes: math.MinInt64},
		"CheckpointInterval=-1": {CheckpointInterval: -1},
		"SyncInterval(0)":       {Sync: SyncInterval(0)},
		"SyncInterval(-1s)":     {Sync: SyncInterval(-time.Second)},
		"SyncInterval(MinInt)":  {Sync: SyncInterval(math.MinInt64)},
		"SyncPolicy(99)":        {Sync: SyncPolicy{mode: 99}},
	}
	// Options at the edges of their ranges: clamped or honoured, and the
	// store still works (commits, checkpoints, recovers).
	edgeOptions := map[string]Options{
		"SegmentBytes=1":          {Sync: SyncNever, SegmentBytes: 1},
		"SegmentBytes=MaxInt64":   {Sync: SyncNever, SegmentBytes: math.MaxInt64},
		"CheckpointBytes=-1":      {Sync: SyncNever, CheckpointBytes: -1},
		"CheckpointBytes=1":       {Sync: SyncNever, CheckpointBytes: 1},
		"CheckpointBytes=MaxInt":  {Sync: SyncNever, CheckpointBytes: math.MaxInt64},
		"CheckpointInterval=1ns":  {Sync: SyncNever, CheckpointInterval: 1},
		"CheckpointInterval=Max":  {Sync: SyncNever, CheckpointInterval: math.MaxInt64},
		"SyncInterval(1ns)":       {Sync: SyncInterval(1)},
		"SyncInterval(MaxInt64)":  {Sync: SyncInterval(math.MaxInt64)},
		"SyncAlways,SegmentBytes": {SegmentBytes: 64},
	}
	openErrors := func(t *testing.T, open func(ctx context.Context, dir string, opts Options) error) {
		for name, o := range badOptions {
			attack.Must(t, "Open with "+name, open(ctx, t.TempDir(), o), nearkit.ErrInvalidConfig)
		}
		attack.Must(t, "Open cancelled", open(cancelled, t.TempDir(), Options{}), context.Canceled)
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
		attack.Calls++
		if err := open(ctx, file, Options{}); err == nil {
			t.Error("Open on a file: no error")
		}
		attack.Calls++
		if err := open(ctx, filepath.Join(file, "below"), Options{}); err == nil {
			t.Error("Open below a file: no error")
		}
		attack.Calls++
		if err := open(ctx, "", Options{}); err == nil {
			// "" is the working directory for os calls; refusing it is
			// not required, but it must not be half-opened.
			t.Log("Open of \"\" opens the working directory")
		}
		locked := t.TempDir()
		x, err := OpenIndex(ctx, locked, apiConfig(Options{}))
		if err != nil {
			t.Fatal(err)
		}
		attack.Must(t, "Open of a locked directory", open(ctx, locked, Options{}), ErrLocked)
		x.Close()
		attack.Must(t, "Open once the lock is released", open(ctx, locked, Options{}), nil)
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(ro, 0o755) })
		if f, err := os.Create(filepath.Join(ro, "probe")); err == nil {
			f.Close()
			t.Log("read-only directory is writable (running as root): not attacked")
		} else {
			attack.Calls++
			if err := open(ctx, ro, Options{}); err == nil || !errors.Is(err, os.ErrPermission) {
				t.Errorf("Open of a read-only directory: %v, want a permission error", err)
			}
		}
	}
	edges := func(t *testing.T, name string, o Options) {
		attack.Bounded(t, "Options "+name, func() {
			dir := t.TempDir()
			x, err := OpenIndex(ctx, dir, apiConfig(o))
			if err != nil {
				t.Errorf("OpenIndex with %s: %v", name, err)
				return
			}
			for i := range 20 {
				if err := x.Add(ids[i], vecs[i*attack.Dim:(i+1)*attack.Dim]); err != nil {
					t.Errorf("%s: Add: %v", name, err)
				}
			}
			if err := x.Checkpoint(ctx); err != nil {
				t.Errorf("%s: Checkpoint: %v", name, err)
			}
			if err := x.Close(); err != nil {
				t.Errorf("%s: Close: %v", name, err)
			}
			y, err := OpenIndex(ctx, dir, apiConfig(o))
			if err != nil {
				t.Errorf("%s: reopen: %v", name, err)
				return
			}
			if y.Len() != 20 {
				t.Errorf("%s: reopened with %d of 20", name, y.Len())
			}
			y.Close()
		})
	}
	return attack.Cases{
		"OpenIndex": func(t *testing.T) {
			openErrors(t, func(ctx context.Context, dir string, o Options) error {
				x, err := OpenIndex(ctx, dir, apiConfig(o))
				if err == nil {
					x.Close()
				}
				return err
			})
			for name, o := range edgeOptions {
				if testing.Short() && name != "SegmentBytes=1" && name != "CheckpointBytes=1" {
					continue
				}
				edges(t, name, o)
			}
			_, err := OpenIndex(ctx, t.TempDir(), Config{})
			attack.Must(t, "OpenIndex of a zero Config", err, nearkit.ErrInvalidConfig)
			_, err = OpenIndex(ctx, t.TempDir(), Config{New: apiConfig(Options{}).New})
			attack.Must(t, "OpenIndex without Read", err, nearkit.ErrInvalidConfig)
			cfg := apiConfig(Options{})
			cfg.New = func() (nearkit.Index, error) { return nil, nil }
			_, err = OpenIndex(ctx, t.TempDir(), cfg)
			attack.Must(t, "OpenIndex whose New returns no index", err, nearkit.ErrInvalidConfig)
			cfg.New = func() (nearkit.Index, error) { return nil, nearkit.ErrDimension }
			_, err = OpenIndex(ctx, t.TempDir(), cfg)
			attack.Must(t, "OpenIndex whose New fails", err, nearkit.ErrDimension)
			// A snapshot the Read cannot take back: Open fails, never
			// starts from an empty index over the directory.
			dir := t.TempDir()
			x, err := OpenIndex(ctx, dir, apiConfig(Options{Sync: SyncNever}))
			if err != nil {
				t.Fatal(err)
			}
			x.Add(1, q)
			x.Checkpoint(ctx)
			x.Close()
			cfg = apiConfig(Options{})
			cfg.Read = func(io.Reader) (nearkit.Index, error) { return nil, nearkit.ErrIncompatible }
			_, err = OpenIndex(ctx, dir, cfg)
			attack.Must(t, "OpenIndex whose Read refuses the snapshot", err, nearkit.ErrIncompatible)
			cfg.Read = func(io.Reader) (nearkit.Index, error) { return nil, nil }
			_, err = OpenIndex(ctx, dir, cfg)
			attack.Must(t, "OpenIndex whose Read returns no index", err, nearkit.ErrInvalidConfig)
		},
		"Open": func(t *testing.T) {
			openErrors(t, func(ctx context.Context, dir string, o Options) error {
				s, err := Open(ctx, dir, o, nopState{})
				if err == nil {
					s.Close()
				}
				return err
			})
			attack.Bounded(t, "Open with a nil State", func() {
				_, err := Open(ctx, t.TempDir(), Options{}, nil)
				attack.Must(t, "Open with a nil State", err, nearkit.ErrInvalidConfig)
			})
		},
		"SyncInterval": func(t *testing.T) {
			for _, d := range []time.Duration{0, -1, math.MinInt64} {
				_, err := Open(ctx, t.TempDir(), Options{Sync: SyncInterval(d)}, nopState{})
				attack.Must(t, "Open with SyncInterval("+d.String()+")", err, nearkit.ErrInvalidConfig)
			}
		},
		"SyncPolicy.String": func(t *testing.T) {
			for _, p := range []SyncPolicy{{}, SyncNever, SyncInterval(-1), SyncInterval(math.MaxInt64), {mode: 200}} {
				attack.Calls++
				if p.String() == "" {
					t.Errorf("no name for %#v", p)
				}
			}
		},
		"Store.Commit": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncNever})
			attack.Must(t, "Commit of a nil record", s.Commit(nil, nil), nil)
			attack.Must(t, "Commit of an empty record", s.Commit([]byte{}, nil), nil)
			attack.Must(t, "Commit whose apply fails", s.Commit([]byte{1}, func() error { return nearkit.ErrUnknownID }), nearkit.ErrUnknownID)
			if !testing.Short() {
				big := make([]byte, MaxRecordBytes+1)
				attack.Bounded(t, "Commit of an oversized record", func() {
					attack.Must(t, "Commit of an oversized record", s.Commit(big, nil), nearkit.ErrInvalidConfig)
				})
			}
			attack.Must(t, "Commit after an oversized record", s.Commit([]byte{2}, nil), nil)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			applied := false
			attack.Must(t, "Commit after Close", s.Commit([]byte{3}, func() error { applied = true; return nil }), ErrClosed)
			if applied {
				t.Error("Commit after Close applied its change")
			}
		},
		"Store.CommitFunc": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncNever})
			attack.Must(t, "CommitFunc with a nil build", s.CommitFunc(nil, nil), nearkit.ErrInvalidConfig)
			attack.Must(t, "CommitFunc whose build fails", s.CommitFunc(func() ([]byte, error) { return nil, nearkit.ErrDimension }, nil), nearkit.ErrDimension)
			attack.Must(t, "CommitFunc whose build returns nothing", s.CommitFunc(func() ([]byte, error) { return nil, nil }, nil), nil)
			// A build that panics must not leave the order lock held:
			// the caller may recover, and every later commit would hang.
			attack.Calls++
			func() {
				defer func() { recover() }()
				s.CommitFunc(func() ([]byte, error) { panic("build") }, nil)
			}()
			done := make(chan error, 1)
			go func() { done <- s.CommitFunc(func() ([]byte, error) { return []byte{1}, nil }, nil) }()
			select {
			case err := <-done:
				attack.Must(t, "CommitFunc after a build panicked", err, nil)
			case <-time.After(10 * time.Second):
				t.Fatal("CommitFunc hangs after a build panicked")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			attack.Must(t, "CommitFunc after Close", s.CommitFunc(func() ([]byte, error) { return []byte{1}, nil }, nil), ErrClosed)
		},
		"Store.Checkpoint": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncNever})
			attack.Must(t, "Checkpoint of nothing", s.Checkpoint(ctx), nil)
			s.Commit([]byte{1}, nil)
			attack.Must(t, "Checkpoint cancelled", s.Checkpoint(cancelled), context.Canceled)
			if _, _, ok := s.Snapshot(); ok {
				t.Error("a cancelled Checkpoint left a snapshot")
			}
			attack.Must(t, "Checkpoint", s.Checkpoint(ctx), nil)
			attack.Must(t, "Checkpoint again with nothing new", s.Checkpoint(ctx), nil)
			if !testing.Short() {
				// A state (and log) past the allocation bound: Checkpoint
				// reserves its size for the snapshot, which it must not
				// do when there is nothing to write, nor for a closed
				// store.
				big := nopStore(t, Options{Sync: SyncNever, CheckpointBytes: -1})
				big.state = bigState{size: 80 << 20}
				rec := make([]byte, 8<<20)
				for range 10 {
					if err := big.Commit(rec, nil); err != nil {
						t.Fatal(err)
					}
				}
				attack.Must(t, "Checkpoint of a big state", big.Checkpoint(ctx), nil)
				attack.Bounded(t, "Checkpoint of a big state with nothing new", func() {
					attack.Must(t, "Checkpoint of a big state with nothing new", big.Checkpoint(ctx), nil)
				})
				big.Commit(rec, nil)
				s = big
			}
			s.Close()
			attack.Bounded(t, "Checkpoint after Close", func() {
				attack.Must(t, "Checkpoint after Close", s.Checkpoint(ctx), ErrClosed)
			})
		},
		"Store.Sync": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncNever})
			attack.Must(t, "Sync of nothing", s.Sync(), nil)
			s.Close()
			attack.Must(t, "Sync after Close", s.Sync(), ErrClosed)
		},
		"Store.Close": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncInterval(time.Millisecond), CheckpointInterval: time.Millisecond})
			s.Commit([]byte{1}, nil)
			attack.Must(t, "Close", s.Close(), nil)
			attack.Must(t, "Close twice", s.Close(), ErrClosed)
			// Concurrent Closes: one wins, the others say ErrClosed.
			s = nopStore(t, Options{})
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { errs[i] = s.Close() })
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				attack.Calls++
				if err == nil {
					won++
				} else if !errors.Is(err, ErrClosed) {
					t.Errorf("concurrent Close: %v", err)
				}
			}
			if won != 1 {
				t.Errorf("%d of %d concurrent Closes succeeded", won, len(errs))
			}
		},
		// The accessors take no arguments; Store.Stats' case calls them
		// all on an open and a closed store.
		"Store.Stats": func(t *testing.T) {
			s := nopStore(t, Options{Sync: SyncNever})
			for range 2 {
				attack.Bounded(t, "Store accessors", func() {
					st := s.Stats()
					if st.Segments < 1 || st.LogBytes < 0 || st.LastLSN < st.SyncedLSN {
						t.Errorf("Stats %+v", st)
					}
					if s.Dir() == "" || s.Recovery().Replayed != 0 {
						t.Errorf("Dir %q, Recovery %+v", s.Dir(), s.Recovery())
					}
					if p, lsn, ok := s.Snapshot(); ok || p != "" || lsn != 0 {
						t.Errorf("Snapshot of a store without one: %q %d %v", p, lsn, ok)
					}
				})
				s.Close()
			}
		},
		"Store.Dir":      nil,
		"Store.Recovery": nil,
		"Store.Snapshot": nil,
		"Histogram.Quantile": func(t *testing.T) {
			var full Histogram
			for _, d := range []time.Duration{0, -time.Second, time.Microsecond, time.Millisecond, math.MaxInt64} {
				full.add(d)
			}
			for _, h := range []Histogram{{}, full} {
				for _, q := range []float64{0, 0.5, 1, -1, 2, math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64} {
					attack.Bounded(t, "Quantile", func() {
						if d := h.Quantile(q); d < 0 || d > h.Max {
							t.Errorf("Quantile(%v) of %d durations = %v, max %v", q, h.Count, d, h.Max)
						}
					})
				}
			}
		},
		"Histogram.Mean": func(t *testing.T) {
			attack.Calls++
			if m := (Histogram{}).Mean(); m != 0 {
				t.Errorf("Mean of nothing: %v", m)
			}
		},
		"Index.Update": func(t *testing.T) {
			x := apiIndex(t, n)
			attack.Must(t, "Update of an unknown ID", x.Update(12345, q), nearkit.ErrUnknownID)
			attack.Must(t, "Update to NaN", x.Update(ids[1], nan), nearkit.ErrInvalidVector)
			attack.Must(t, "Update to Inf", x.Update(ids[1], inf), nearkit.ErrInvalidVector)
			attack.Must(t, "Update to nil", x.Update(ids[1], nil), nearkit.ErrDimension)
			attack.Must(t, "Update to a long vector", x.Update(ids[1], vecs[:attack.Dim+1]), nearkit.ErrDimension)
			attack.Must(t, "Update of MaxUint64", x.Update(ids[0], q), nil)
			if x.Len() != n {
				t.Errorf("Len %d after Updates of %d", x.Len(), n)
			}
			y := closedIndex(t, n)
			attack.Must(t, "Update after Close", y.Update(ids[1], q), ErrClosed)
		},
		"Index.Checkpoint": func(t *testing.T) {
			x := apiIndex(t, 0)
			attack.Must(t, "Checkpoint cancelled", x.Checkpoint(cancelled), context.Canceled)
			// Checkpoints racing writers: every acknowledged write is in
			// the state a reopen recovers.
			dir := t.TempDir()
			x, err := OpenIndex(ctx, dir, apiConfig(Options{Sync: SyncNever, CheckpointBytes: -1}))
			if err != nil {
				t.Fatal(err)
			}
			writers, each := 4, n/4
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := w * each; i < (w+1)*each; i++ {
						if err := x.Add(ids[i], vecs[i*attack.Dim:(i+1)*attack.Dim]); err != nil {
							t.Errorf("Add during checkpoints: %v", err)
						}
					}
				})
			}
			ckErrs := make(chan error, 1)
			go func() {
				var first error
				for range 10 {
					if err := x.Checkpoint(ctx); err != nil && first == nil {
						first = err
					}
				}
				ckErrs <- first
			}()
			wg.Wait()
			attack.Must(t, "Checkpoint concurrently with writers", <-ckErrs, nil)
			x.Close()
			attack.Must(t, "Checkpoint after Close", x.Checkpoint(ctx), ErrClosed)
			y, err := OpenIndex(ctx, dir, apiConfig(Options{}))
			if err != nil {
				t.Fatal(err)
			}
			defer y.Close()
			if y.Len() != writers*each {
				t.Errorf("reopened with %d of %d", y.Len(), writers*each)
			}
		},
		"Index.Snapshot": func(t *testing.T) {
			x := apiIndex(t, n)
			attack.Calls++
			if p, _, ok := x.Snapshot(); ok || p != "" {
				t.Errorf("Snapshot before any checkpoint: %q %v", p, ok)
			}
			if err := x.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
			p, lsn, ok := x.Snapshot()
			attack.Calls++
			if !ok || lsn == 0 {
				t.Fatalf("Snapshot after a checkpoint: %q %d %v", p, lsn, ok)
			}
			y, err := flat.Load(p)
			if err != nil || y.Len() != n {
				t.Errorf("snapshot file: %v", err)
			}
		},
		"Index.Sync": func(t *testing.T) {
			x := apiIndex(t, n)
			attack.Must(t, "Sync", x.Sync(), nil)
			x.Close()
			attack.Must(t, "Sync after Close", x.Sync(), ErrClosed)
		},
		"Index.Close": func(t *testing.T) {
			x := apiIndex(t, n)
			attack.Must(t, "Close", x.Close(), nil)
			attack.Must(t, "Close twice", x.Close(), ErrClosed)
			attack.Must(t, "Add after Close", x.Add(1, q), ErrClosed)
			attack.Must(t, "AddBatch after Close", x.AddBatch(ctx, ids[:1], q), ErrClosed)
			attack.Must(t, "Delete after Close", x.Delete(ids[0]), ErrClosed)
			// Reads stay served from memory, as documented.
			attack.Bounded(t, "Search after Close", func() {
				if res, err := x.Search(nil, q, 10, nearkit.SearchOptions{}); err != nil || len(res) != 10 {
					t.Errorf("Search after Close: %d results, %v", len(res), err)
				}
			})
			if x.Len() != n {
				t.Errorf("refused writes after Close changed Len to %d", x.Len())
			}
		},
		// The accessors take no arguments; Index.Stats' case calls them
		// on an open and a closed index.
		"Index.Stats": func(t *testing.T) {
			for _, x := range []*Index{apiIndex(t, n), closedIndex(t, n)} {
				attack.Bounded(t, "Index accessors", func() {
					if st := x.Stats(); st.LastLSN == 0 || st.Segments < 1 {
						t.Errorf("Stats %+v", st)
					}
					if r := x.Recovery(); r.Replayed != 0 || r.Snapshot != "" {
						t.Errorf("Recovery of a fresh directory %+v", r)
					}
					if u := x.Unwrap(); u == nil || u.Len() != n {
						t.Errorf("Unwrap: %v", u)
					}
				})
			}
		},
		"Index.Recovery": nil,
		"Index.Unwrap":   nil,
	}
}
