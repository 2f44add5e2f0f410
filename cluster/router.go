package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
)

// DefaultHedgeMin is the shortest hedge delay when RouterConfig.HedgeMin
// is 0.
const DefaultHedgeMin = time.Millisecond

// RouterConfig configures a Router.
type RouterConfig struct {
	// Cluster is the cluster's fixed configuration (shards, replicas, load
	// factor); every router of one cluster must use the same.
	Cluster Config
	// Dim is the vector dimension.
	Dim int
	// WriteQuorum is how many of a shard's owners must acknowledge a write
	// (at most the number of owners). When 0 it is a strict majority,
	// Replicas/2+1, so that an acknowledged write survives the loss of any
	// minority of its owners: 1 of 1, 2 of 2, 2 of 3. With Replicas=2 the
	// majority is both owners: while one owner of a shard is down, writes
	// to that shard fail with ErrQuorum (naming the IDs) rather than
	// being acknowledged on a single copy that the next failure would
	// lose; searches keep full results either way. Hosts that prefer
	// write availability at R=2 set WriteQuorum to 1 and accept that an
	// acknowledged write may live on one node until Rebalance repairs the
	// other.
	WriteQuorum int
	// HedgeMin is the shortest wait before a search asks a second replica
	// (DefaultHedgeMin when 0; negative disables hedging). The wait is the
	// node's recent p95 latency when that is longer.
	HedgeMin time.Duration
	// AllowPartial selects the partial-results policy. When false (the
	// default) a search that cannot reach any replica of some logical
	// shard returns no results and a *PartialError. When true it returns
	// the results of the shards that answered together with that
	// *PartialError; the caller must check the error either way.
	AllowPartial bool
	// SuspectFor is how long a node whose search failed (an error, or its
	// deadline passed), or that a write found down (ErrNodeDown), is asked
	// only after its shards' other replicas:
	// DefaultSuspectFor when 0, negative to disable. Membership reports a
	// node dead only after its failure detector's suspicion timeout, and
	// memberlist tells nothing of the suspicion before it; the router's own
	// failures are the earlier signal. A suspect is not excluded: for a
	// shard whose other replicas are unreachable it is still asked, and
	// its first answer clears the suspicion.
	SuspectFor time.Duration
}

// DefaultSuspectFor is RouterConfig.SuspectFor when 0.
const DefaultSuspectFor = 2 * time.Second

// Connect makes the router's connection to a member: an httpnode client,
// or an in-process node looked up by name. A connection that implements
// io.Closer is closed when its member leaves.
type Connect func(Member) (Node, error)

// Router routes writes to the R owners of each ID's logical shard and
// fans searches out to one replica of every logical shard. It follows the
// membership for which nodes are reachable; placement changes only when
// the host calls Rebalance.
//
// A Router is safe for concurrent use: Search, Add and Delete run in
// parallel with each other and with Rebalance.
type Router struct {
	cfg     RouterConfig
	need    int // write quorum
	members Membership
	connect Connect

	// state is the placement and the copies in progress. Every search and
	// write pins the state it started with (acquire); a move publishes a
	// new state and waits for the ops pinned on the old one to end.
	state atomic.Pointer[routeState]

	mu    sync.RWMutex // guards conns and stale
	conns map[string]conn
	stale map[replica]bool // replicas that missed a write; repaired by Rebalance

	moveMu sync.Mutex // one Rebalance at a time

	searchPool sync.Pool // of *search

	statsMu   sync.Mutex
	nodeStats map[string]*nodeStats
	searches  atomic.Int64
	partials  atomic.Int64
	moves     atomic.Int64
	rot       atomic.Uint64

	changed chan struct{} // signalled after each membership sync
	stop    chan struct{}
	done    chan struct{}
}

type conn struct {
	addr string
	node Node
}

type replica struct {
	node  string
	shard int
}

// routeState is immutable once published, apart from refs and the
// copyTargets' failed flags.
type routeState struct {
	p        *Placement
	incoming map[int][]*copyTarget // shard → nodes receiving a copy of it
	refs     atomic.Int64
}

// copyTarget is a node receiving a copy of a shard. Writes reach it while
// the copy runs; one that fails marks the copy incomplete.
type copyTarget struct {
	node   string
	failed atomic.Bool
}

// NewRouter returns a router over the members of m, placing shards over
// the members present now (epoch 1). It watches m until Close.
func NewRouter(cfg RouterConfig, m Membership, connect Connect) (*Router, error) {
	cc, err := cfg.Cluster.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.Cluster = cc
	if cfg.Dim <= 0 {
		return nil, fmt.Errorf("%w: cluster: Dim=%d", nearkit.ErrInvalidConfig, cfg.Dim)
	}
	if cfg.WriteQuorum < 0 || cfg.WriteQuorum > cc.Replicas {
		return nil, fmt.Errorf("%w: cluster: WriteQuorum=%d, want 0..Replicas=%d", nearkit.ErrInvalidConfig, cfg.WriteQuorum, cc.Replicas)
	}
	if cfg.HedgeMin == 0 {
		cfg.HedgeMin = DefaultHedgeMin
	}
	if cfg.SuspectFor == 0 {
		cfg.SuspectFor = DefaultSuspectFor
	}
	if m == nil || connect == nil {
		return nil, fmt.Errorf("%w: cluster: NewRouter needs a membership and a connect function", nearkit.ErrInvalidConfig)
	}
	r := &Router{
		cfg: cfg, need: cfg.WriteQuorum, members: m, connect: connect,
		conns: map[string]conn{}, stale: map[replica]bool{},
		nodeStats: map[string]*nodeStats{},
		changed:   make(chan struct{}, 1),
		stop:      make(chan struct{}), done: make(chan struct{}),
	}
	r.searchPool.New = func() any { return new(search) }
	if r.need == 0 {
		r.need = cc.Replicas/2 + 1
	}
	r.sync()
	p, err := Place(cc, memberNames(m.Members()), 1)
	if err != nil {
		return nil, err
	}
	r.state.Store(&routeState{p: p})
	go r.watch()
	return r, nil
}

func memberNames(ms []Member) []string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names
}

// Close stops following the membership and closes the connections that
// are io.Closers.
func (r *Router) Close() error {
	select {
	case <-r.stop:
		return nil
	default:
	}
	close(r.stop)
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, c := range r.conns {
		closeConn(c.node)
		delete(r.conns, name)
	}
	return nil
}

func closeConn(n Node) {
	if c, ok := n.(io.Closer); ok {
		c.Close()
	}
}

func (r *Router) watch() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			return
		case <-r.members.Changes():
			r.sync()
			select {
			case r.changed <- struct{}{}:
			default:
			}
		}
	}
}

// sync connects to new members and forgets those that left.
func (r *Router) sync() {
	ms := r.members.Members()
	r.mu.Lock()
	defer r.mu.Unlock()
	live := make(map[string]bool, len(ms))
	for _, m := range ms {
		live[m.Name] = true
		if c, ok := r.conns[m.Name]; ok && c.addr == m.Addr {
			continue
		}
		n, err := r.connect(m)
		if err != nil {
			// Unreachable until the next change; searches fail over.
			continue
		}
		if old, ok := r.conns[m.Name]; ok {
			closeConn(old.node)
		}
		r.conns[m.Name] = conn{addr: m.Addr, node: n}
	}
	for name, c := range r.conns {
		if !live[name] {
			closeConn(c.node)
			delete(r.conns, name)
		}
	}
}

// Placement returns the placement the router routes by.
func (r *Router) Placement() *Placement { return r.state.Load().p }

// acquire pins the current state; release it when the op ends.
func (r *Router) acquire() *routeState {
	for {
		s := r.state.Load()
		s.refs.Add(1)
		if r.state.Load() == s {
			return s
		}
		s.refs.Add(-1)
	}
}

func (s *routeState) release() { s.refs.Add(-1) }

// publish installs next and waits until no op is pinned on the state it
// replaces: after it returns every op in flight sees next.
func (r *Router) publish(next *routeState) {
	old := r.state.Swap(next)
	for old.refs.Load() != 0 {
		time.Sleep(50 * time.Microsecond)
	}
}

func (r *Router) node(name string) Node {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.conns[name].node
}

func (r *Router) isStale(name string, shard int) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.stale[replica{name, shard}]
}

func (r *Router) markStale(name string, shard int) {
	r.mu.Lock()
	r.stale[replica{name, shard}] = true
	r.mu.Unlock()
}

// PartialError reports the logical shards a search got no answer from.
// It wraps ErrPartial and the last error seen from those shards' replicas
// (context.DeadlineExceeded, ErrNodeDown, a transport error, …).
type PartialError struct {
	Shards []int // ascending
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("cluster: partial results: %d logical shards did not answer (first %d): %v", len(e.Shards), e.Shards[0], e.Err)
}

// Unwrap returns ErrPartial and the cause.
func (e *PartialError) Unwrap() []error { return []error{ErrPartial, e.Err} }

// Search returns the k nearest neighbours of q over the whole cluster in
// ascending (distance, id), each ID at most once. It asks one replica of
// every logical shard (shards grouped into one request per node),
// concurrently, under ctx; when a node takes longer than its recent p95
// it asks the shards' other replicas too and takes the first complete
// answer, and when a node fails it fails over to the other replicas.
// Shards no replica answered for are handled by the partial-results
// policy (RouterConfig.AllowPartial).
//
// opts travel to every node; a Filter works only with in-process nodes.
//
// Search's own allocations are a few per node asked (the request, the
// goroutine sending it, a hedge timer when there are replicas) and none
// per logical shard or growing with k: its state, the query copy and the
// shard lists are pooled. TestSearchAllocs pins the count. The nodes'
// answers and the merged result are the rest.
func (r *Router) Search(ctx context.Context, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	if err := check.Vector(q, r.cfg.Dim); err != nil {
		return nil, err
	}
	if err := check.K(k); err != nil {
		return nil, err
	}
	r.searches.Add(1)
	st := r.acquire()
	defer st.release()
	s := r.searchPool.Get().(*search)
	s.r, s.st, s.k, s.opts = r, st, k, opts
	// The query is copied: a request that lost to a hedge may still be
	// reading it after Search returns, when the caller may reuse q.
	s.q = append(s.q[:0], q...)
	s.refs.Store(1)
	out := s.spread(ctx, st.p.all, nil, false)
	s.unref()
	if len(out.missing) > 0 {
		r.partials.Add(1)
		// missing may be a group's shard list, in the search's buffers.
		missing := slices.Clone(out.missing)
		slices.Sort(missing)
		cause := out.err
		if cause == nil {
			cause = ErrNodeDown
		}
		perr := &PartialError{Shards: missing, Err: cause}
		if !r.cfg.AllowPartial {
			return nil, perr
		}
		return out.res, perr
	}
	return out.res, nil
}

// search is one Search call's state. It is pooled by the router: each
// goroutine of the search (its requests, and hedges, which may lose and
// outlive the Search call) holds a reference, and the last to end puts it
// back.
type search struct {
	r    *Router
	st   *routeState
	q    []float32 // the caller's query, copied
	k    int
	opts nearkit.SearchOptions
	refs atomic.Int32

	// groups and shards are the first assign's output; later assigns
	// (failovers, hedges) run while it is in use and allocate their own.
	groups []group
	shards []int
	top    bool // the first assign has run
}

// ref adds a reference for a goroutine about to start.
func (s *search) ref() { s.refs.Add(1) }

// unref drops a reference; the last returns s to the pool.
func (s *search) unref() {
	if s.refs.Add(-1) != 0 {
		return
	}
	r := s.r
	s.r, s.st, s.opts, s.top = nil, nil, nearkit.SearchOptions{}, false
	clear(s.groups[:cap(s.groups)]) // node names
	r.searchPool.Put(s)
}

// groupOut is the answer for a set of shards: merged top-k of those that
// answered, and those that did not.
type groupOut struct {
	res     []nearkit.Result
	missing []int
	err     error
}

type group struct {
	node   string
	shards []int
}

// assign picks for each shard one owner not in tried, reachable and not
// stale, a healthy one before a suspect one (RouterConfig.SuspectFor; a
// hedge, which only races a slow healthy node, takes no suspect),
// rotating among the owners from one request to the next so that replicas
// share the load, and groups the shards by node. Its allocations do not
// grow with the number of shards: the groups' shard lists share one
// backing array (the pooled search's, the first time), and the per-node
// and per-shard scratch lives on the stack up to 64 nodes and 256 shards.
func (s *search) assign(shards []int, tried []string, hedge bool) (groups []group, missing []int) {
	const (
		unusable uint8 = iota
		suspect
		healthy
	)
	r, p := s.r, s.st.p
	rot := int(r.rot.Add(1) & (1<<31 - 1))
	var useBuf [64]uint8
	var slotBuf [64]int
	use, slot := useBuf[:], slotBuf[:]
	if n := len(p.nodes); n > len(useBuf) {
		use, slot = make([]uint8, n), make([]int, n)
	}
	use, slot = use[:len(p.nodes)], slot[:len(p.nodes)]
	var pickBuf [256]int32
	picks := pickBuf[:0]
	if len(shards) > len(pickBuf) {
		picks = make([]int32, 0, len(shards))
	}
	now := time.Now().UnixNano()

	r.mu.RLock()
	for i, name := range p.nodes {
		switch {
		case slices.Contains(tried, name) || r.conns[name].node == nil:
			use[i] = unusable
		case r.statsFor(name).suspectUntil.Load() > now:
			use[i] = suspect
			if hedge {
				use[i] = unusable
			}
		default:
			use[i] = healthy
		}
	}
	stale := len(r.stale) > 0
	nGroups, placed := 0, 0
	for _, sh := range shards {
		own := p.owners[sh*p.r : (sh+1)*p.r]
		pick, best := int32(-1), unusable
		for j := range own {
			o := own[(j+rot+sh)%len(own)]
			if use[o] <= best || stale && r.stale[replica{p.nodes[o], sh}] {
				continue
			}
			pick, best = o, use[o]
			if best == healthy {
				break
			}
		}
		picks = append(picks, pick)
		if pick < 0 {
			missing = append(missing, sh)
			continue
		}
		if slot[pick] == 0 {
			nGroups++
		}
		slot[pick]++
		placed++
	}
	r.mu.RUnlock()

	if nGroups == 0 {
		return nil, missing
	}
	// slot[i] becomes node i's group index.
	var backing []int
	if !s.top {
		s.top = true
		if cap(s.shards) < placed {
			s.shards = make([]int, placed)
		}
		if cap(s.groups) < nGroups {
			s.groups = make([]group, 0, nGroups)
		}
		backing, groups = s.shards[:placed], s.groups[:0]
	} else {
		backing, groups = make([]int, placed), make([]group, 0, nGroups)
	}
	for i, c := range slot {
		if c == 0 {
			continue
		}
		slot[i] = len(groups)
		groups = append(groups, group{node: p.nodes[i], shards: backing[:0:c]})
		backing = backing[c:]
	}
	for i, sh := range shards {
		if pk := picks[i]; pk >= 0 {
			g := &groups[slot[pk]]
			g.shards = append(g.shards, sh)
		}
	}
	return groups, missing
}

// spread answers shards from replicas not in tried, one request per node,
// concurrently; a hedge asks no suspect.
func (s *search) spread(ctx context.Context, shards []int, tried []string, hedge bool) groupOut {
	groups, missing := s.assign(shards, tried, hedge)
	out := groupOut{missing: missing}
	if len(missing) > 0 {
		out.err = fmt.Errorf("%w: no reachable replica", ErrNodeDown)
	}
	switch len(groups) {
	case 0:
		return out
	case 1:
		g := s.ask(ctx, groups[0], tried)
		g.missing = append(g.missing, out.missing...)
		if g.err == nil {
			g.err = out.err
		}
		return g
	}
	// The first group is asked on this goroutine, the others on their own.
	ch := make(chan groupOut, len(groups)-1)
	for _, g := range groups[1:] {
		s.ref()
		go func() {
			defer s.unref()
			ch <- s.ask(ctx, g, tried)
		}()
	}
	lists := make([][]nearkit.Result, 0, len(groups))
	for i := range groups {
		var g groupOut
		if i == 0 {
			g = s.ask(ctx, groups[0], tried)
		} else {
			g = <-ch
		}
		lists = append(lists, g.res)
		out.missing = append(out.missing, g.missing...)
		if g.err != nil {
			out.err = g.err
		}
	}
	out.res = mergeTopK(lists, s.k)
	return out
}

// call is one request to one node: all that the goroutine sending it
// shares with ask, which reads the answer once done is closed.
type call struct {
	s    *search // referenced by req
	ctx  context.Context
	node Node
	req  SearchRequest
	done chan struct{}
	res  []nearkit.Result
	err  error
}

func (c *call) send() {
	defer c.s.unref()
	c.res, c.err = c.node.Search(c.ctx, &c.req)
	close(c.done)
}

// with returns tried and name, leaving tried's array alone: the groups of
// one spread share it.
func with(tried []string, name string) []string {
	return append(slices.Clip(tried), name)
}

// ask sends g to its node; past the node's hedge delay it also asks the
// other replicas of g's shards, and on an error it fails over to them.
func (s *search) ask(ctx context.Context, g group, tried []string) groupOut {
	r := s.r
	ns := r.statsFor(g.node)
	n := r.node(g.node)
	if n == nil {
		ns.failovers.Add(1)
		return s.spread(ctx, g.shards, with(tried, g.node), false)
	}
	// A hedge needs another replica, and a way to call off the request
	// that loses. Without one, ask returns only once the node answered or
	// ctx ended, and the request needs no context of its own.
	hedging := r.cfg.HedgeMin > 0 && s.st.p.r > 1
	pctx := ctx
	if hedging {
		var pcancel context.CancelFunc
		pctx, pcancel = context.WithCancel(ctx)
		defer pcancel()
	}
	c := &call{s: s, ctx: pctx, node: n, req: SearchRequest{Shards: g.shards, Query: s.q, K: s.k, Opts: s.opts}, done: make(chan struct{})}
	start := time.Now()
	s.ref()
	go c.send()
	prim := c.done
	var hedge <-chan time.Time
	if hedging {
		t := time.NewTimer(ns.hedgeDelay(r.cfg.HedgeMin))
		defer t.Stop()
		hedge = t.C
	}
	var alt chan groupOut
	var altOut *groupOut
	var primErr error
	for {
		select {
		case <-prim:
			prim = nil
			if c.err == nil {
				ns.observe(time.Since(start))
				ns.answered()
				return groupOut{res: c.res}
			}
			primErr = c.err
			if ctx.Err() != nil {
				r.timedOut(ns, ctx)
				return groupOut{missing: g.shards, err: ctx.Err()}
			}
			ns.errors.Add(1)
			ns.failed(r.cfg.SuspectFor)
			if altOut != nil {
				return *altOut
			}
			if alt == nil {
				ns.failovers.Add(1)
				return s.spread(ctx, g.shards, with(tried, g.node), false)
			}
		case <-hedge:
			hedge = nil
			others := with(tried, g.node)
			if groups, _ := s.assign(g.shards, others, true); len(groups) == 0 {
				continue
			}
			ns.hedges.Add(1)
			actx, acancel := context.WithCancel(ctx)
			defer acancel()
			ch := make(chan groupOut, 1)
			alt = ch
			s.ref()
			go func() {
				defer s.unref()
				ch <- s.spread(actx, g.shards, others, true)
			}()
		case o := <-alt:
			alt = nil
			if len(o.missing) == 0 || prim == nil {
				if o.err == nil && len(o.missing) > 0 {
					o.err = primErr
				}
				return o
			}
			altOut = &o
		case <-ctx.Done():
			r.timedOut(ns, ctx)
			return groupOut{missing: g.shards, err: ctx.Err()}
		}
	}
}

// mergeTopK merges lists, each ascending by (distance, id), into the k
// best, keeping the first (best) hit of an ID seen twice.
func mergeTopK(lists [][]nearkit.Result, k int) []nearkit.Result {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	out := make([]nearkit.Result, 0, min(k, total))
	// A heap of list indices ordered by each list's head.
	var hbuf [16]int
	h := hbuf[:0]
	if len(lists) > len(hbuf) {
		h = make([]int, 0, len(lists))
	}
	less := func(a, b int) bool {
		return nearkit.CompareResults(lists[h[a]][0], lists[h[b]][0]) < 0
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			if r := l + 1; r < len(h) && less(r, l) {
				l = r
			}
			if !less(l, i) {
				return
			}
			h[i], h[l] = h[l], h[i]
			i = l
		}
	}
	for i, l := range lists {
		if len(l) > 0 {
			h = append(h, i)
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		down(i)
	}
	var seen map[uint64]struct{}
	if k > 64 {
		seen = make(map[uint64]struct{}, min(k, total))
	}
	for len(h) > 0 && len(out) < k {
		top := h[0]
		res := lists[top][0]
		lists[top] = lists[top][1:]
		if len(lists[top]) == 0 {
			h[0] = h[len(h)-1]
			h = h[:len(h)-1]
		}
		down(0)
		if seen != nil {
			if _, dup := seen[res.ID]; dup {
				continue
			}
			seen[res.ID] = struct{}{}
		} else if slices.ContainsFunc(out, func(o nearkit.Result) bool { return o.ID == res.ID }) {
			continue
		}
		out = append(out, res)
	}
	return out
}

// ErrQuorum: a write was acknowledged by fewer owners than the write
// quorum. It is wrapped by *WriteError.
var ErrQuorum = errors.New("cluster: write quorum not reached")

// WriteError names the IDs of an Add or Delete that did not reach the
// write quorum; the others did. It wraps ErrQuorum and the owners' errors
// (nearkit.ErrDuplicateID, ErrNodeDown, …). A failed ID may still be
// stored on the FailedWrite.Acks owners that took it, and found by
// searches: writes are idempotent, so the host retries it (or deletes it).
type WriteError struct {
	Failed []FailedWrite // ascending by ID
}

// FailedWrite is one ID whose write did not reach the quorum.
type FailedWrite struct {
	ID   uint64
	Acks int   // owners that acknowledged
	Need int   // the quorum
	Err  error // an owner's error
}

func (e *WriteError) Error() string {
	f := e.Failed[0]
	return fmt.Sprintf("cluster: %d writes below quorum (id %d: %d of %d acks: %v)", len(e.Failed), f.ID, f.Acks, f.Need, f.Err)
}

// Unwrap returns ErrQuorum and the distinct owner errors.
func (e *WriteError) Unwrap() []error {
	errs := []error{ErrQuorum}
	for _, f := range e.Failed {
		if f.Err != nil && !slices.Contains(errs, f.Err) {
			errs = append(errs, f.Err)
			if len(errs) == 8 {
				break
			}
		}
	}
	return errs
}

// Add stores len(ids) vectors (contiguous in vecs) on the R owners of
// each ID's logical shard, and on a shard's next owner while it is being
// copied there. An ID is acknowledged when WriteQuorum owners stored it;
// the error is a *WriteError naming every ID that was not. Writes are
// idempotent: adding an ID again with the same vector succeeds.
func (r *Router) Add(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, r.cfg.Dim, len(ids)); err != nil {
		return err
	}
	return r.write(ctx, ids, vecs, func(n Node, sh int, ids []uint64, vecs []float32) error {
		return n.Add(ctx, sh, ids, vecs)
	})
}

// Delete removes ids from the owners of their shards, like Add. Deleting
// an absent ID is not an error.
func (r *Router) Delete(ctx context.Context, ids []uint64) error {
	return r.write(ctx, ids, nil, func(n Node, sh int, ids []uint64, _ []float32) error {
		return n.Delete(ctx, sh, ids)
	})
}

// shardBatch is one shard's slice of a write.
type shardBatch struct {
	shard int
	ids   []uint64
	vecs  []float32
	errs  map[string]error // by owner; nil entry = acknowledged
}

func (r *Router) write(ctx context.Context, ids []uint64, vecs []float32, op func(Node, int, []uint64, []float32) error) error {
	if len(ids) == 0 {
		return nil
	}
	st := r.acquire()
	defer st.release()
	p := st.p
	dim := r.cfg.Dim
	byShard := map[int]*shardBatch{}
	var order []int
	for i, id := range ids {
		sh := ShardOf(id, p.Shards())
		b := byShard[sh]
		if b == nil {
			b = &shardBatch{shard: sh}
			byShard[sh] = b
			order = append(order, sh)
		}
		b.ids = append(b.ids, id)
		if vecs != nil {
			b.vecs = append(b.vecs, vecs[i*dim:(i+1)*dim]...)
		}
	}
	// One goroutine per target node, each writing its shards in turn.
	type task struct {
		b      *shardBatch
		owner  bool
		target *copyTarget
	}
	perNode := map[string][]task{}
	var owners []string
	for _, sh := range order {
		b := byShard[sh]
		owners = p.Owners(owners[:0], sh)
		b.errs = make(map[string]error, len(owners))
		for _, o := range owners {
			perNode[o] = append(perNode[o], task{b: b, owner: true})
		}
		for _, t := range st.incoming[sh] {
			if !slices.Contains(owners, t.node) {
				perNode[t.node] = append(perNode[t.node], task{b: b, target: t})
			} else {
				// The owner is also re-copying its replica: a failure
				// must spoil the copy as well.
				for i := range perNode[t.node] {
					if tk := &perNode[t.node][i]; tk.b == b {
						tk.target = t
					}
				}
			}
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, tasks := range perNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := r.node(name)
			ns := r.statsFor(name)
			for _, t := range tasks {
				var err error
				if n == nil {
					err = fmt.Errorf("%w: %s", ErrNodeDown, name)
				} else {
					err = op(n, t.b.shard, t.b.ids, t.b.vecs)
				}
				ns.writes.Add(1)
				if err != nil {
					ns.errors.Add(1)
					if errors.Is(err, ErrNodeDown) {
						// Unreachable for writes: searches try it last too.
						ns.failed(r.cfg.SuspectFor)
					}
					if t.target != nil {
						t.target.failed.Store(true)
					}
				}
				if t.owner {
					mu.Lock()
					t.b.errs[name] = err
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	var failed []FailedWrite
	for _, sh := range order {
		b := byShard[sh]
		acks := 0
		var firstErr error
		for _, err := range b.errs {
			if err == nil {
				acks++
			} else if firstErr == nil {
				firstErr = err
			}
		}
		if acks > 0 {
			// A replica that missed a write its peers took must not serve
			// searches until Rebalance has copied it afresh.
			for name, err := range b.errs {
				if err != nil {
					r.markStale(name, sh)
				}
			}
		}
		need := min(r.need, len(b.errs))
		if acks < need {
			for _, id := range b.ids {
				failed = append(failed, FailedWrite{ID: id, Acks: acks, Need: need, Err: firstErr})
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b FailedWrite) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return &WriteError{Failed: failed}
}

// timedOut counts a request ended by ctx as a timeout, and makes the node
// a suspect, when its deadline passed; a cancellation (the caller's, or of
// a hedge whose other request answered first) is no fault of the node's.
func (r *Router) timedOut(ns *nodeStats, ctx context.Context) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		ns.timeouts.Add(1)
		ns.failed(r.cfg.SuspectFor)
	}
}
