package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/flat"
)

const testDim = 16

func flatFactory() (nearkit.Index, error) { return flat.New(flat.Config{Dim: testDim}) }

func newLocal(t testing.TB) *Local {
	t.Helper()
	l, err := NewLocal(testDim, flatFactory)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func randVecs(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n*testDim)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

// fault modes of a faulty node.
const (
	faultNone int32 = iota
	faultError
	faultHang // block until the caller's context ends
	faultSlow // sleep delay, then answer
	faultKill // block until kill is closed, then fail like a dropped connection
	faultDeaf // sleep delay whatever ctx says, then answer in full
)

// faulty wraps a Node and misbehaves on Search on demand.
type faulty struct {
	Node
	mode  atomic.Int32
	delay time.Duration
	kill  chan struct{}
	calls atomic.Int64
}

func (f *faulty) Search(ctx context.Context, req *SearchRequest) ([]nearkit.Result, error) {
	f.calls.Add(1)
	switch f.mode.Load() {
	case faultError:
		return nil, fmt.Errorf("injected failure")
	case faultHang:
		<-ctx.Done()
		return nil, ctx.Err()
	case faultSlow:
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case faultDeaf:
		// A node that does not hear the cancel: it reads the request
		// long after the router stopped waiting.
		time.Sleep(f.delay)
		return f.Node.Search(context.WithoutCancel(ctx), req)
	case faultKill:
		select {
		case <-f.kill:
			return nil, fmt.Errorf("%w: connection reset", ErrNodeDown)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.Node.Search(ctx, req)
}

// testCluster is n in-process nodes behind faulty wrappers, a static
// membership and a router.
type testCluster struct {
	t       testing.TB
	mu      sync.Mutex
	nodes   map[string]*faulty
	members *Static
	r       *Router
}

func newTestCluster(t testing.TB, n int, cfg RouterConfig) *testCluster {
	t.Helper()
	c := &testCluster{t: t, nodes: map[string]*faulty{}}
	var ms []Member
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		c.nodes[name] = &faulty{Node: newLocal(t), kill: make(chan struct{})}
		ms = append(ms, Member{Name: name})
	}
	c.members = NewStatic(ms...)
	if cfg.Dim == 0 {
		cfg.Dim = testDim
	}
	r, err := NewRouter(cfg, c.members, func(m Member) (Node, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if f := c.nodes[m.Name]; f != nil {
			return f, nil
		}
		return nil, fmt.Errorf("no node %s", m.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.r = r
	return c
}

func (c *testCluster) node(name string) *faulty {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[name]
}

// addNode starts a new empty node and makes it a member.
func (c *testCluster) addNode(name string) {
	c.mu.Lock()
	c.nodes[name] = &faulty{Node: newLocal(c.t), kill: make(chan struct{})}
	c.mu.Unlock()
	c.setMembers(append(c.members.Members(), Member{Name: name})...)
}

func (c *testCluster) setMembers(ms ...Member) {
	c.members.Set(ms...)
	c.r.sync() // the watcher would do it a moment later
}

func (c *testCluster) removeMember(name string) {
	var ms []Member
	for _, m := range c.members.Members() {
		if m.Name != name {
			ms = append(ms, m)
		}
	}
	c.setMembers(ms...)
}

// load adds n random vectors with IDs from base, and returns them with
// a reference flat index over the same data.
func (c *testCluster) load(rng *rand.Rand, base uint64, n int) ([]uint64, []float32, *flat.Index) {
	c.t.Helper()
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = base + uint64(i)
	}
	vecs := randVecs(rng, n)
	if err := c.r.Add(context.Background(), ids, vecs); err != nil {
		c.t.Fatal(err)
	}
	ref, _ := flat.New(flat.Config{Dim: testDim})
	if err := ref.AddBatch(context.Background(), ids, vecs); err != nil {
		c.t.Fatal(err)
	}
	return ids, vecs, ref
}
