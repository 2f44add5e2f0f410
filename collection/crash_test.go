package collection

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/hnsw"
)

// The crash test runs the test binary again as a child (crashChildEnv
// names its directory) that writes with SyncAlways from several
// goroutines and prints every acknowledged operation; the parent kills it
// with SIGKILL at a random moment, reopens the directory and checks that
// every acknowledged operation is there exactly as acknowledged.
const (
	crashChildEnv = "NEARKIT_COLLECTION_CRASH_DIR"
	crashRoundEnv = "NEARKIT_COLLECTION_CRASH_ROUND"
	crashWriters  = 4
	crashKeys     = 24 // per writer
	crashDim      = 16
)

func crashConfig() Config {
	return Config{
		Dim:   crashDim,
		Index: HNSW(hnsw.Config{M: 8, EfConstruction: 32, Seed: 1}),
		Sync:  durable.SyncAlways,
		// Small segments and frequent automatic checkpoints, so kills land
		// in rotations and checkpoints too.
		SegmentBytes:    16 << 10,
		CheckpointBytes: 48 << 10,
	}
}

// crashOp is operation seq of writer w in a round: an upsert of one or two
// of the writer's keys or a delete of one, all derived from the seed.
type crashOp struct {
	del  bool
	docs []Document // for a delete, only the keys
}

func makeCrashOp(round, w, seq int) crashOp {
	rng := rand.New(rand.NewPCG(uint64(round), uint64(w)<<32|uint64(seq)))
	key := func() string { return fmt.Sprintf("w%d-k%d", w, rng.IntN(crashKeys)) }
	if rng.IntN(4) == 0 {
		return crashOp{del: true, docs: []Document{{Key: key()}}}
	}
	n := 1 + rng.IntN(2)
	var op crashOp
	for len(op.docs) < n {
		k := key()
		if len(op.docs) == 1 && op.docs[0].Key == k {
			continue
		}
		v := make([]float32, crashDim)
		for i := range v {
			v[i] = rng.Float32()
		}
		op.docs = append(op.docs, Document{
			Key:    k,
			Vector: v,
			Metadata: map[string]Value{
				"w":     Int(int64(w)),
				"round": Int(int64(round)),
				"seq":   Int(int64(seq)),
				"tag":   String([]string{"red", "green", "blue"}[rng.IntN(3)]),
			},
			Payload: []byte(fmt.Sprintf("r%d w%d s%d %s", round, w, seq, k)),
		})
	}
	return op
}

// apply applies op to a model of the collection.
func (op crashOp) apply(m map[string]Document) {
	for _, d := range op.docs {
		if op.del {
			delete(m, d.Key)
		} else {
			m[d.Key] = d
		}
	}
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		round, _ := strconv.Atoi(os.Getenv(crashRoundEnv))
		crashChild(dir, round)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild writes until it is killed (or for at most 10 s).
func crashChild(dir string, round int) {
	ctx := context.Background()
	c, err := Open(ctx, dir, crashConfig())
	if err != nil {
		fmt.Printf("error %v\n", err)
		return
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format, args...) // one write(2) per line
		out.Unlock()
	}
	say("ready\n")
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for seq := 0; time.Now().Before(deadline); seq++ {
				op := makeCrashOp(round, w, seq)
				var err error
				if op.del {
					err = c.Delete(ctx, op.docs[0].Key)
				} else {
					err = c.Upsert(ctx, op.docs...)
				}
				if err != nil {
					say("error %v\n", err)
					return
				}
				say("ack %d %d\n", w, seq)
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			time.Sleep(3 * time.Millisecond)
			say("checkpoint\n")
			if err := c.Checkpoint(ctx); err != nil {
				say("error %v\n", err)
				return
			}
			say("checkpointed\n")
		}
	})
	wg.Wait()
}

func TestCrash(t *testing.T) {
	rounds := 50
	if testing.Short() {
		rounds = 5
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	model := map[string]Document{}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	inCheckpoint, torn := 0, 0
	for round := 1; round <= rounds; round++ {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashRoundEnv+"="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) || strings.Contains(err.Error(), "exec format error") {
				t.Skipf("cannot re-execute the test binary here: %v", err)
			}
			t.Fatal(err)
		}
		acked := make([]int, crashWriters) // number of acknowledged ops per writer
		ready := make(chan struct{})
		lines := make(chan struct{})
		checkpointing := false
		var mu sync.Mutex
		var childErr string
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) == 0 {
					continue
				}
				mu.Lock()
				switch f[0] {
				case "ready":
					close(ready)
				case "ack":
					w, _ := strconv.Atoi(f[1])
					seq, _ := strconv.Atoi(f[2])
					if seq != acked[w] {
						childErr = fmt.Sprintf("writer %d acknowledged op %d after %d", w, seq, acked[w])
					}
					acked[w] = seq + 1
				case "checkpoint":
					checkpointing = true
				case "checkpointed":
					checkpointing = false
				case "error":
					childErr = sc.Text()
				}
				mu.Unlock()
			}
		}()
		select {
		case <-ready:
		case <-lines:
			cmd.Wait()
			t.Fatalf("round %d: child ended before it was ready (%s)", round, childErr)
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("round %d: child not ready", round)
		}
		time.Sleep(time.Duration(10+rng.IntN(90)) * time.Millisecond)
		mu.Lock()
		during := checkpointing
		mu.Unlock()
		cmd.Process.Signal(syscall.SIGKILL)
		<-lines
		cmd.Wait()
		if childErr != "" {
			t.Fatalf("round %d: child: %s", round, childErr)
		}
		if during {
			inCheckpoint++
		}

		// Every acknowledged op must be present; the op after the last
		// acknowledged one of each writer may or may not be (whole).
		for w := range crashWriters {
			for seq := range acked[w] {
				makeCrashOp(round, w, seq).apply(model)
			}
		}
		c, err := Open(context.Background(), dir, crashConfig())
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		if c.Recovery().TornBytes > 0 {
			torn++
		}
		for w := range crashWriters {
			pending := makeCrashOp(round, w, acked[w])
			with := map[string]Document{}
			for _, d := range pending.docs {
				if old, ok := model[d.Key]; ok {
					with[d.Key] = old
				}
			}
			pending.apply(with)
			matches := func(m map[string]Document) bool {
				for _, d := range pending.docs {
					want, present := m[d.Key]
					got, ok := c.Get(d.Key)
					if ok != present || (ok && !sameDoc(got, want)) {
						return false
					}
				}
				return true
			}
			switch {
			case matches(model):
			case matches(with):
				pending.apply(model)
			default:
				t.Fatalf("round %d writer %d: keys of the unacknowledged op %d are neither before nor after it", round, w, acked[w])
			}
		}
		for k, want := range model {
			got, ok := c.Get(k)
			if !ok || !sameDoc(got, want) {
				t.Fatalf("round %d: acknowledged %q is %+v (present %v), want %+v", round, k, got, ok, want)
			}
		}
		if c.Len() != len(model) {
			t.Fatalf("round %d: %d documents, want %d", round, c.Len(), len(model))
		}
		n, _ := c.Count(Eq("tag", String("red")))
		want := 0
		for _, d := range model {
			if d.Metadata["tag"] == String("red") {
				want++
			}
		}
		if n != want {
			t.Fatalf("round %d: %d red documents, want %d", round, n, want)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d kills, %d during a checkpoint, %d recoveries cut a torn tail; %d documents at the end", rounds, inCheckpoint, torn, len(model))
}
