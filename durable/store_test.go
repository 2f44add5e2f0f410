package durable

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
)

func TestSyncPolicies(t *testing.T) {
	for _, tc := range []struct {
		p    SyncPolicy
		want string
	}{
		{SyncAlways, "always"}, {SyncNever, "never"}, {SyncInterval(5 * time.Millisecond), "interval(5ms)"},
	} {
		if tc.p.String() != tc.want {
			t.Errorf("%v.String() = %q", tc.p, tc.p.String())
		}
	}
	for _, bad := range []Options{{Sync: SyncInterval(0)}, {Sync: SyncInterval(-time.Second)}, {SegmentBytes: -1}, {CheckpointInterval: -1}} {
		if _, err := OpenIndex(context.Background(), t.TempDir(), flatConfig(bad)); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Errorf("options %+v: %v, want ErrInvalidConfig", bad, err)
		}
	}
}

func TestSyncAlwaysIsDurableOnReturn(t *testing.T) {
	x := reopen(t, t.TempDir(), Options{})
	addN(t, x, 0, 20)
	st := x.Stats()
	if st.SyncedLSN != st.LastLSN || st.LastLSN != 20 {
		t.Fatalf("SyncAlways: synced %d of %d", st.SyncedLSN, st.LastLSN)
	}
	if st.Fsyncs == 0 || st.FsyncLatency.Count != st.Fsyncs || st.SyncedRecords != 20 {
		t.Fatalf("stats %+v", st)
	}
	h := st.FsyncLatency
	if q := h.Quantile(0.5); q <= 0 || q > h.Max || h.Mean() <= 0 || h.Quantile(1) != h.Max {
		t.Fatalf("histogram: median %v, mean %v, max %v", q, h.Mean(), h.Max)
	}
	var n int64
	for _, c := range h.Buckets {
		n += c
	}
	if n != h.Count {
		t.Fatalf("buckets hold %d, Count %d", n, h.Count)
	}
}

// TestSyncIntervalWindow checks the documented bound: without any call to
// Sync, what was acknowledged is synced within one interval plus one
// fsync, and SyncNever syncs nothing on its own.
func TestSyncIntervalWindow(t *testing.T) {
	const d = 20 * time.Millisecond
	x := reopen(t, t.TempDir(), Options{Sync: SyncInterval(d)})
	addN(t, x, 0, 50)
	acked := time.Now()
	for x.Stats().SyncedLSN < 50 {
		if time.Since(acked) > 2*time.Second {
			t.Fatalf("SyncInterval(%v): after %v only %d of 50 records synced", d, time.Since(acked), x.Stats().SyncedLSN)
		}
		time.Sleep(time.Millisecond)
	}
	// The bound itself is d + one fsync; on a loaded machine allow slack,
	// but far less than the 2 s above.
	if took := time.Since(acked); took > d+x.Stats().FsyncLatency.Max+200*time.Millisecond {
		t.Errorf("synced %v after the last acknowledgement, interval %v", took, d)
	}

	y := reopen(t, t.TempDir(), Options{Sync: SyncNever})
	addN(t, y, 0, 50)
	time.Sleep(3 * d)
	if st := y.Stats(); st.SyncedLSN != 0 || st.Fsyncs != 0 {
		t.Fatalf("SyncNever synced on its own: %+v", st)
	}
	if err := y.Sync(); err != nil {
		t.Fatal(err)
	}
	if st := y.Stats(); st.SyncedLSN != 50 {
		t.Fatalf("after Sync: synced %d of 50", st.SyncedLSN)
	}
}

func TestAutomaticCheckpoint(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		dir := t.TempDir()
		opts := Options{Sync: SyncNever, SegmentBytes: 20 * addFrame, CheckpointBytes: 100 * addFrame}
		x := reopen(t, dir, opts)
		// Each round writes more than CheckpointBytes, so each one starts
		// a checkpoint.
		m := model{}
		for round := range int64(3) {
			for id, v := range addN(t, x, int(round)*120, 120) {
				m[id] = v
			}
			waitFor(t, func() bool { return x.Stats().Checkpoints > round })
		}
		st := x.Stats()
		if st.LastCheckpointError != nil || st.LastCheckpoint.IsZero() || st.LastCheckpointPause > st.LastCheckpointDuration || st.LastCheckpointBytes == 0 {
			t.Fatalf("stats after automatic checkpoints: %+v", st)
		}
		// Obsolete segments were removed: what is left is about two
		// checkpoints' worth.
		if n := len(segments(t, dir)); n > 12 {
			t.Fatalf("%d segments left after %d checkpoints", n, st.Checkpoints)
		}
		x.Close()
		y := reopen(t, dir, opts)
		if r := y.Recovery(); r.Snapshot == "" || r.Replayed >= 120 {
			t.Fatalf("recovery %+v", r)
		}
		checkFlat(t, y, m)
	})
	t.Run("interval", func(t *testing.T) {
		x := reopen(t, t.TempDir(), Options{Sync: SyncNever, CheckpointBytes: -1, CheckpointInterval: 20 * time.Millisecond})
		addN(t, x, 0, 10)
		waitFor(t, func() bool { return x.Stats().Checkpoints >= 1 })
		n := x.Stats().Checkpoints
		time.Sleep(100 * time.Millisecond)
		if m := x.Stats().Checkpoints; m != n {
			t.Fatalf("idle store checkpointed again (%d → %d)", n, m)
		}
		if st := x.Stats(); st.RecordsSinceCheckpoint != 0 {
			t.Fatalf("%d records since the checkpoint", st.RecordsSinceCheckpoint)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		x := reopen(t, t.TempDir(), Options{Sync: SyncNever, CheckpointBytes: -1})
		addN(t, x, 0, 300)
		time.Sleep(20 * time.Millisecond)
		if st := x.Stats(); st.Checkpoints != 0 || st.RecordsSinceCheckpoint != 300 || st.BytesSinceCheckpoint != 300*addFrame {
			t.Fatalf("stats %+v", st)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestConcurrentWritersAndCheckpoints runs writers, searches and
// checkpoints together (a -race test), then checks that group commit
// shared fsyncs and that reopening finds every write.
func TestConcurrentWritersAndCheckpoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{SegmentBytes: 64 * addFrame, CheckpointBytes: -1}
	x, err := OpenIndex(ctx, dir, hnswConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	writers, per := 8, 60
	if testing.Short() {
		per = 20
	}
	var mu sync.Mutex
	m := model{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := range per {
				id := uint64(w*per + i)
				v := randVec(rng)
				if err := x.Add(id, v); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				m[id] = v
				mu.Unlock()
				if i%5 == 4 {
					if err := x.Delete(id - 2); err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					delete(m, id-2)
					mu.Unlock()
				}
			}
		})
	}
	var side sync.WaitGroup
	side.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := x.Checkpoint(ctx); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	side.Go(func() {
		rng := rand.New(rand.NewPCG(5, 5))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := x.Search(nil, randVec(rng), 5, nearkit.SearchOptions{}); err != nil {
				t.Error(err)
				return
			}
			_ = x.Stats()
		}
	})
	wg.Wait()
	close(stop)
	side.Wait()
	st := x.Stats()
	if st.SyncedRecords != int64(st.LastLSN) {
		t.Fatalf("SyncAlways left records unsynced: %+v", st)
	}
	t.Logf("%d records, %d fsyncs (%.1f records per fsync), %d checkpoints, last pause %v of %v",
		st.LastLSN, st.Fsyncs, float64(st.SyncedRecords)/float64(st.Fsyncs), st.Checkpoints, st.LastCheckpointPause, st.LastCheckpointDuration)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	y, err := OpenIndex(ctx, dir, hnswConfig(opts))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if y.Len() != len(m) {
		t.Fatalf("reopened: %d vectors, want %d", y.Len(), len(m))
	}
	for id, v := range m {
		res, err := y.Search(nil, v, 1, nearkit.SearchOptions{Ef: 64})
		if err != nil || len(res) != 1 || res[0].ID != id {
			t.Fatalf("search for %d: %v %v", id, res, err)
		}
	}
}

func TestClosed(t *testing.T) {
	x, err := OpenIndex(context.Background(), t.TempDir(), flatConfig(Options{}))
	if err != nil {
		t.Fatal(err)
	}
	x.Add(1, make([]float32, testDim))
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if err := x.Add(2, make([]float32, testDim)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
	if err := x.Checkpoint(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Checkpoint after Close: %v", err)
	}
	if err := x.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if res, err := x.Search(nil, make([]float32, testDim), 1, nearkit.SearchOptions{}); err != nil || len(res) != 1 {
		t.Fatalf("search after Close: %v %v", res, err)
	}
}

func TestBadInput(t *testing.T) {
	x := reopen(t, t.TempDir(), Options{Sync: SyncNever})
	if err := x.Add(1, make([]float32, testDim-1)); !errors.Is(err, nearkit.ErrDimension) {
		t.Fatalf("short vector: %v", err)
	}
	nan := make([]float32, testDim)
	nan[3] = float32(nanF())
	if err := x.Add(1, nan); !errors.Is(err, nearkit.ErrInvalidVector) {
		t.Fatalf("NaN vector: %v", err)
	}
	if err := x.AddBatch(context.Background(), []uint64{1, 1}, make([]float32, 2*testDim)); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Fatalf("duplicate in batch: %v", err)
	}
	if err := x.AddBatch(context.Background(), []uint64{1, 2}, make([]float32, testDim)); !errors.Is(err, nearkit.ErrDimension) {
		t.Fatalf("short batch: %v", err)
	}
	if st := x.Stats(); st.LastLSN != 0 {
		t.Fatalf("rejected calls logged %d records", st.LastLSN)
	}
	if _, err := OpenIndex(context.Background(), t.TempDir(), Config{}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("empty Config: %v", err)
	}
	if !testing.Short() {
		if err := x.st.Commit(make([]byte, MaxRecordBytes+1), nil); !errors.Is(err, nearkit.ErrInvalidConfig) {
			t.Fatalf("oversized record: %v", err)
		}
	}
}

func nanF() float64 { var z float64; return z / z }

// TestSecondProcessLocked checks the lock against another process: the
// test binary re-executed as a child tries to open the directory.
func TestSecondProcessLocked(t *testing.T) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		t.Skip("child")
	}
	dir := t.TempDir()
	reopen(t, dir, Options{})
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	out, err := runChild(exe, dir)
	if err != nil {
		t.Skipf("cannot re-execute the test binary: %v", err)
	}
	if out != "locked" {
		t.Fatalf("second process: %q, want locked", out)
	}
}

const lockChildEnv = "NEARKIT_DURABLE_LOCK_DIR"

func runChild(exe, dir string) (string, error) {
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	out, err := cmd.Output()
	return string(out), err
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		_, err := OpenIndex(context.Background(), dir, flatConfig(Options{}))
		switch {
		case errors.Is(err, ErrLocked):
			fmt.Print("locked")
		case err == nil:
			fmt.Print("opened")
		default:
			fmt.Print(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
