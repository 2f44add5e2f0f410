package cluster

import (
	"expvar"
	"fmt"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nearkit/nearkit"
)

// latencyBuckets is the number of histogram buckets: bucket i counts
// latencies in [2^(i-1), 2^i) microseconds, the last one everything above.
const latencyBuckets = 24

// recentLatencies is how many recent latencies a node keeps for its p95.
const recentLatencies = 128

// NodeStats are one node's counters as the router saw them.
type NodeStats struct {
	Searches  int64
	Errors    int64
	Hedges    int64 // hedged requests sent away from this node because it was slow
	Failovers int64 // requests sent elsewhere after this node failed
	Timeouts  int64
	Writes    int64
	// Latency counts search latencies in power-of-two microsecond
	// buckets: Latency[i] counts [2^(i-1), 2^i) µs.
	Latency [latencyBuckets]int64
	// P95 is the recent 95th-percentile search latency, the hedge delay.
	P95 time.Duration
	// Suspect: the node's last search failed within RouterConfig.SuspectFor,
	// so its shards' other replicas are asked first.
	Suspect bool
}

// Stats are the router's counters.
type Stats struct {
	Epoch          uint64
	Searches       int64
	PartialResults int64
	ShardMoves     int64
	Nodes          map[string]NodeStats
}

type nodeStats struct {
	searches, errors, hedges, failovers, timeouts, writes atomic.Int64
	latency                                               [latencyBuckets]atomic.Int64

	mu     sync.Mutex
	recent [recentLatencies]time.Duration
	n      int
	p95    atomic.Int64 // ns, recomputed every 16 samples

	suspectUntil atomic.Int64 // Unix ns; 0 when the last search answered
}

// failed makes the node a suspect for hold.
func (s *nodeStats) failed(hold time.Duration) {
	if hold > 0 {
		s.suspectUntil.Store(time.Now().Add(hold).UnixNano())
	}
}

// answered clears the suspicion.
func (s *nodeStats) answered() {
	if s.suspectUntil.Load() != 0 {
		s.suspectUntil.Store(0)
	}
}

func (s *nodeStats) observe(d time.Duration) {
	s.searches.Add(1)
	us := uint64(d / time.Microsecond)
	s.latency[min(bits.Len64(us), latencyBuckets-1)].Add(1)
	s.mu.Lock()
	s.recent[s.n%recentLatencies] = d
	s.n++
	if s.n%16 == 0 || s.n < 16 {
		m := min(s.n, recentLatencies)
		c := slices.Clone(s.recent[:m])
		slices.Sort(c)
		s.p95.Store(int64(c[(m*95)/100]))
	}
	s.mu.Unlock()
}

// hedgeDelay is how long to wait for the node before asking another
// replica: its recent p95, never below floor; floor×4 until the node has
// a history.
func (s *nodeStats) hedgeDelay(floor time.Duration) time.Duration {
	s.mu.Lock()
	n := s.n
	s.mu.Unlock()
	if n < 16 {
		return 4 * floor
	}
	return max(time.Duration(s.p95.Load()), floor)
}

func (s *nodeStats) snapshot() NodeStats {
	ns := NodeStats{
		Searches: s.searches.Load(), Errors: s.errors.Load(), Hedges: s.hedges.Load(),
		Failovers: s.failovers.Load(), Timeouts: s.timeouts.Load(), Writes: s.writes.Load(),
		P95:     time.Duration(s.p95.Load()),
		Suspect: s.suspectUntil.Load() > time.Now().UnixNano(),
	}
	for i := range ns.Latency {
		ns.Latency[i] = s.latency[i].Load()
	}
	return ns
}

// Stats returns a snapshot of the router's counters.
func (r *Router) Stats() Stats {
	st := Stats{
		Searches:       r.searches.Load(),
		PartialResults: r.partials.Load(),
		ShardMoves:     r.moves.Load(),
		Nodes:          map[string]NodeStats{},
	}
	st.Epoch = r.state.Load().p.Epoch
	r.statsMu.Lock()
	for name, s := range r.nodeStats {
		st.Nodes[name] = s.snapshot()
	}
	r.statsMu.Unlock()
	return st
}

// Publish publishes Stats under name in expvar (visible at /debug/vars
// when the host serves expvar.Handler). A name already published (by this
// router, another one, or anything else in the process) is an error, where
// expvar.Publish itself would panic.
func (r *Router) Publish(name string) error {
	publishMu.Lock()
	defer publishMu.Unlock()
	if expvar.Get(name) != nil {
		return fmt.Errorf("%w: cluster: expvar name %q already published", nearkit.ErrInvalidConfig, name)
	}
	expvar.Publish(name, expvar.Func(func() any { return r.Stats() }))
	return nil
}

// publishMu makes Publish's test-and-publish one step between routers.
var publishMu sync.Mutex

func (r *Router) statsFor(name string) *nodeStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	s := r.nodeStats[name]
	if s == nil {
		s = &nodeStats{}
		r.nodeStats[name] = s
	}
	return s
}
