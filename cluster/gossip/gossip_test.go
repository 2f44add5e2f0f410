package gossip

import (
	"context"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit/cluster/internal/answer"

	"github.com/hashicorp/memberlist"
	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
	"github.com/nearkit/nearkit/cluster/httpnode"
	"github.com/nearkit/nearkit/flat"
)

const dim = 8

// fastConfig is memberlist's loopback configuration with timings cut so
// that failure detection takes well under a second.
func fastConfig() *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.PushPullInterval = 500 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 2
	c.TCPTimeout = 200 * time.Millisecond
	c.DeadNodeReclaimTime = time.Millisecond // a restarted node may come back on another port
	return c
}

// suspicionTimeout is memberlist's longest suspicion timeout for n nodes:
// SuspicionMaxTimeoutMult × SuspicionMult × max(1, log10(n)) ×
// ProbeInterval.
func suspicionTimeout(c *memberlist.Config, n int) time.Duration {
	scale := max(1, math.Log10(float64(max(1, n))))
	return time.Duration(float64(c.SuspicionMaxTimeoutMult*c.SuspicionMult) * scale * float64(c.ProbeInterval))
}

type gnode struct {
	name string
	ms   *Membership
	srv  *httptest.Server
	loc  *cluster.Local
}

func startGossipNode(t *testing.T, name string, join []string) *gnode {
	t.Helper()
	loc, _ := cluster.NewLocal(dim, func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: dim}) })
	h, _ := httpnode.Handler(loc, httpnode.HandlerConfig{Dim: dim})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	ms, err := New(Config{Name: name, Addr: srv.URL, Join: join, Memberlist: fastConfig()})
	if err != nil {
		t.Fatal(err)
	}
	g := &gnode{name: name, ms: ms, srv: srv, loc: loc}
	t.Cleanup(func() { g.ms.Shutdown(); g.srv.Close() })
	return g
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not after %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func names(ms []cluster.Member) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// TestThreeNodes: three memberlist nodes on loopback; one is stopped
// without a goodbye; the router on another keeps every query complete
// (R=2), memberlist drops the dead node within its suspicion timeout,
// Rebalance moves its shards; then it restarts empty and rejoins, and
// AutoRebalance gives it shards back.
func TestThreeNodes(t *testing.T) {
	n0 := startGossipNode(t, "n0", nil)
	n1 := startGossipNode(t, "n1", []string{n0.ms.GossipAddr()})
	n2 := startGossipNode(t, "n2", []string{n0.ms.GossipAddr()})
	waitFor(t, "three members", 5*time.Second, func() bool { return len(n0.ms.Members()) == 3 && len(n2.ms.Members()) == 3 })
	if ms := n0.ms.Members(); ms[2].Addr != n2.srv.URL {
		t.Fatalf("n2's address did not travel in its metadata: %+v", ms)
	}

	r, err := cluster.NewRouter(cluster.RouterConfig{Dim: dim, Cluster: cluster.Config{Shards: 32, Replicas: 2}, WriteQuorum: 1}, n0.ms,
		func(m cluster.Member) (cluster.Node, error) { return httpnode.NewClient(m.Addr, dim, nil) })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	// Under -race on a loaded machine a probe can time out and a node be
	// suspected for a moment; Bootstrap needs every member reachable.
	var berr error
	waitFor(t, "bootstrap", 5*time.Second, func() bool {
		berr = r.Bootstrap(ctx)
		return berr == nil
	})
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 1000
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	vecs := make([]float32, n*dim)
	for i := range vecs {
		vecs[i] = rng.Float32()
	}
	if err := r.Add(ctx, ids, vecs); err != nil {
		t.Fatal(err)
	}
	ref, _ := flat.New(flat.Config{Dim: dim})
	ref.AddBatch(ctx, ids, vecs)

	// Queries run through everything that follows.
	var bad, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopQueries := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopQueries()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			q := vecs[(i%n)*dim : (i%n+1)*dim]
			qctx, cancel := context.WithTimeout(ctx, time.Second)
			got, err := r.Search(qctx, q, 5, nearkit.SearchOptions{})
			cancel()
			want, _ := ref.Search(nil, q, 5, nearkit.SearchOptions{})
			total.Add(1)
			if err != nil || !answer.Same(got, want) {
				bad.Add(1)
				t.Logf("query %d: %v", i, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()

	auto, cancelAuto := context.WithCancel(ctx)
	autoDone := make(chan struct{})
	// The rebalancer reports through t: it must end before the test does.
	defer func() { cancelAuto(); <-autoDone }()
	var reports atomic.Int64
	go func() {
		defer close(autoDone)
		r.AutoRebalance(auto, 100*time.Millisecond, func(rep *cluster.MoveReport, err error) {
			if err != nil {
				t.Logf("rebalance: %v", err)
				return
			}
			reports.Add(1)
		})
	}()

	// Crash n2.
	n2.ms.Shutdown()
	n2.srv.CloseClientConnections()
	n2.srv.Close()
	// Detection takes a failed probe round, then the suspicion timeout.
	limit := suspicionTimeout(fastConfig(), 3) + 5*fastConfig().ProbeInterval
	took := waitFor(t, "n2 declared dead", limit, func() bool { return !slices.Contains(names(n0.ms.Members()), "n2") })
	t.Logf("n2 dropped from the member set after %v (suspicion timeout %v)", took, suspicionTimeout(fastConfig(), 3))
	// Before memberlist declared n2 dead, the router asked it again only
	// once per SuspectFor after a failure, not on every query.
	errs := r.Stats().Nodes["n2"].Errors + r.Stats().Nodes["n2"].Timeouts
	if most := 3 + 3*int64(took/cluster.DefaultSuspectFor); errs > most {
		t.Errorf("n2 failed %d searches before it was declared dead after %v, want ≤ %d: a suspect is routed to as if healthy", errs, took, most)
	}
	t.Logf("n2 failed %d searches meanwhile (%d queries so far)", errs, total.Load())
	waitFor(t, "placement without n2", 5*time.Second, func() bool { return !slices.Contains(r.Placement().Nodes(), "n2") })

	// Restart n2, empty, on new ports.
	n2b := startGossipNode(t, "n2", []string{n0.ms.GossipAddr()})
	waitFor(t, "n2 rejoined", 5*time.Second, func() bool { return len(n0.ms.Members()) == 3 })
	waitFor(t, "n2 placed and filled", 10*time.Second, func() bool {
		held, _ := n2b.loc.Held(ctx)
		return slices.Contains(r.Placement().Nodes(), "n2") && len(held) == r.Placement().Load()["n2"] && len(held) > 0
	})
	stopQueries()
	if bad.Load() != 0 {
		t.Fatalf("%d of %d queries incomplete or wrong", bad.Load(), total.Load())
	}
	// n2's copies are complete: with n1 gone too, n0 and n2 answer all.
	n1.ms.Leave(time.Second)
	waitFor(t, "n1 left", 5*time.Second, func() bool { return len(n0.ms.Members()) == 2 })
	for i := range 20 {
		q := vecs[i*dim : (i+1)*dim]
		got, err := r.Search(ctx, q, 5, nearkit.SearchOptions{})
		want, _ := ref.Search(nil, q, 5, nearkit.SearchOptions{})
		if err != nil || !answer.Same(got, want) {
			t.Fatalf("after n1 left: %v %v", got, err)
		}
	}
	t.Logf("%d queries, %d rebalances, %d shard copies", total.Load(), reports.Load(), r.Stats().ShardMoves)
}
