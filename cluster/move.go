package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// MoveReport says what a Rebalance did.
type MoveReport struct {
	// Epoch is the placement epoch after the rebalance.
	Epoch uint64
	// Copied are the shard replicas copied to a new owner, and Repaired
	// those copied afresh to an owner that had lost or missed part of
	// them (a restarted node, a failed write).
	Copied, Repaired []Move
	// Dropped counts old copies removed after the switch.
	Dropped int
	// DropErrors are old copies that could not be removed; they are
	// harmless (no search is routed to them, and a later copy replaces
	// them) but hold memory.
	DropErrors []error
}

// Rebalance brings placement and data in line with the live members:
//
//  1. It places the logical shards over the members (a new epoch when the
//     node set changed) and plans the moves (Plan); it also plans a fresh
//     copy for every replica the current owner lost (Held) or missed a
//     write for.
//  2. Each receiving node starts an empty copy in import mode
//     (BeginImport); from then on every write of the shard also goes to
//     it, and a receiver that fails such a write spoils its copy.
//  3. Each copy streams from a live, complete owner (Export into Import)
//     and is finished (FinishImport).
//  4. The new placement is switched in: searches and writes that start
//     after it use the new owners; the switch waits for those in flight.
//  5. Old copies are dropped.
//
// Searches keep using the old owners until the switch, so results never
// miss or repeat a vector during the move. If a copy fails, nothing is
// switched, the partial copies are dropped and the error is returned; the
// host calls Rebalance again later. The host decides when to rebalance,
// typically on each Membership change.
func (r *Router) Rebalance(ctx context.Context) (*MoveReport, error) {
	r.moveMu.Lock()
	defer r.moveMu.Unlock()
	r.sync()
	return r.rebalance(ctx, memberNames(r.members.Members()))
}

// RebalanceTo is Rebalance onto the given members rather than all live
// ones: to take a node out gracefully, rebalance onto the others while it
// still serves, then stop it. Every name must be a live member.
func (r *Router) RebalanceTo(ctx context.Context, nodes []string) (*MoveReport, error) {
	r.moveMu.Lock()
	defer r.moveMu.Unlock()
	r.sync()
	for _, n := range nodes {
		if r.node(n) == nil {
			return nil, fmt.Errorf("%w: %q is not a live member", ErrNodeDown, n)
		}
	}
	return r.rebalance(ctx, slices.Clone(nodes))
}

func (r *Router) rebalance(ctx context.Context, live []string) (*MoveReport, error) {
	cur := r.state.Load()
	slices.Sort(live)
	live = slices.Compact(live)
	next := cur.p
	var plan []Move
	if !slices.Equal(live, cur.p.nodes) {
		if len(live) == 0 {
			return nil, fmt.Errorf("%w: cluster: no live members to place shards on", ErrNodeDown)
		}
		p, err := Place(r.cfg.Cluster, live, cur.p.Epoch+1)
		if err != nil {
			return nil, err
		}
		next = p
		if plan, err = Plan(cur.p, next); err != nil {
			return nil, err
		}
	}
	repairs, err := r.repairs(ctx, cur.p, next, plan)
	if err != nil {
		return nil, err
	}
	rep := &MoveReport{Epoch: next.Epoch}
	var copies []Move
	for _, m := range plan {
		if m.To != "" {
			copies = append(copies, m)
		}
	}
	rep.Copied = copies
	rep.Repaired = repairs
	copies = append(slices.Clip(copies), repairs...)
	if next == cur.p && len(copies) == 0 {
		return rep, nil
	}
	// A node receiving a copy of a shard cannot be a source of it.
	for i := range copies {
		m := &copies[i]
		m.From = slices.DeleteFunc(slices.Clone(m.From), func(f string) bool {
			return slices.ContainsFunc(copies, func(o Move) bool { return o.Shard == m.Shard && o.To == f })
		})
	}

	// 2. Start the copies and route writes to them.
	targets := make([]*copyTarget, len(copies))
	incoming := map[int][]*copyTarget{}
	for i, m := range copies {
		n := r.node(m.To)
		if n == nil {
			return nil, fmt.Errorf("%w: %s", ErrNodeDown, m.To)
		}
		if err := n.BeginImport(ctx, m.Shard); err != nil {
			r.abort(ctx, cur, copies[:i])
			return nil, fmt.Errorf("cluster: start copy of shard %d on %s: %w", m.Shard, m.To, err)
		}
		targets[i] = &copyTarget{node: m.To}
		incoming[m.Shard] = append(incoming[m.Shard], targets[i])
	}
	r.publish(&routeState{p: cur.p, incoming: incoming})

	// 3. Copy.
	for _, m := range copies {
		if err := r.copyShard(ctx, cur.p, m); err != nil {
			r.abort(ctx, cur, copies)
			return nil, err
		}
	}

	// 4. Switch. Targets that missed a write during the copy stay stale
	// and are repaired by the next Rebalance.
	r.publish(&routeState{p: next})
	r.mu.Lock()
	for i, m := range copies {
		if targets[i].failed.Load() {
			r.stale[replica{m.To, m.Shard}] = true
		} else {
			delete(r.stale, replica{m.To, m.Shard})
		}
	}
	for rp := range r.stale {
		if !slices.Contains(next.nodes, rp.node) || !next.Owns(rp.node, rp.shard) {
			delete(r.stale, rp)
		}
	}
	r.mu.Unlock()
	r.moves.Add(int64(len(copies)))

	// 5. Drop old copies.
	for _, m := range plan {
		if m.Drop == "" {
			continue
		}
		n := r.node(m.Drop)
		if n == nil {
			continue
		}
		if err := n.Drop(ctx, m.Shard); err != nil {
			rep.DropErrors = append(rep.DropErrors, fmt.Errorf("cluster: drop shard %d on %s: %w", m.Shard, m.Drop, err))
			continue
		}
		rep.Dropped++
	}
	return rep, nil
}

// repairs plans fresh copies for owners (in both cur and next, and not
// already receiving the shard by plan) that do not hold a shard they own,
// or missed a write of it.
func (r *Router) repairs(ctx context.Context, cur, next *Placement, plan []Move) ([]Move, error) {
	planned := map[replica]bool{}
	for _, m := range plan {
		if m.To != "" {
			planned[replica{m.To, m.Shard}] = true
		}
	}
	var out []Move
	var owners []string
	for _, name := range next.nodes {
		if !slices.Contains(cur.nodes, name) {
			continue
		}
		n := r.node(name)
		if n == nil {
			continue
		}
		held, err := n.Held(ctx)
		if err != nil {
			return nil, fmt.Errorf("cluster: list shards of %s: %w", name, err)
		}
		for sh := range next.Shards() {
			if !next.Owns(name, sh) || !cur.Owns(name, sh) || planned[replica{name, sh}] {
				continue
			}
			if _, ok := slices.BinarySearch(held, sh); ok && !r.isStale(name, sh) {
				continue
			}
			var from []string
			for _, o := range cur.Owners(owners[:0], sh) {
				if o != name && r.node(o) != nil {
					from = append(from, o)
				}
			}
			out = append(out, Move{Shard: sh, From: from, To: name})
		}
	}
	return out, nil
}

// copyShard streams m.Shard from the first of m.From that is reachable and
// complete into m.To.
func (r *Router) copyShard(ctx context.Context, p *Placement, m Move) error {
	dst := r.node(m.To)
	if dst == nil {
		return fmt.Errorf("%w: %s", ErrNodeDown, m.To)
	}
	errs := []error{}
	for _, from := range m.From {
		src := r.node(from)
		if src == nil || r.isStale(from, m.Shard) {
			continue
		}
		err := src.Export(ctx, m.Shard, func(ids []uint64, vecs []float32) error {
			return dst.Import(ctx, m.Shard, ids, vecs)
		})
		if err == nil {
			return dst.FinishImport(ctx, m.Shard)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs = append(errs, fmt.Errorf("from %s: %w", from, err))
		// The failed attempt may have copied part of the shard; a copy
		// from another owner only adds what is missing, and writes since
		// BeginImport already reached dst.
	}
	if len(errs) == 0 {
		// No complete replica is reachable: copying an empty shard would
		// lose its vectors.
		errs = append(errs, fmt.Errorf("%w: no complete replica of shard %d is reachable", ErrNodeDown, m.Shard))
	}
	return fmt.Errorf("cluster: copy shard %d to %s: %w", m.Shard, m.To, errors.Join(errs...))
}

// abort undoes started copies: writes stop going to them and the partial
// copies are dropped where the node is not an owner now.
func (r *Router) abort(ctx context.Context, cur *routeState, started []Move) {
	ctx = context.WithoutCancel(ctx)
	r.publish(&routeState{p: cur.p})
	for _, m := range started {
		if cur.p.Owns(m.To, m.Shard) {
			// A repaired owner keeps its (still stale) copy.
			r.markStale(m.To, m.Shard)
			continue
		}
		if n := r.node(m.To); n != nil {
			n.Drop(ctx, m.Shard)
		}
	}
}

// AutoRebalance runs Rebalance after every membership change, once the
// membership has been quiet for settle (so that a burst of joins makes one
// move), until ctx ends or the router is closed. report, when not nil,
// receives each outcome; a failed rebalance is retried after the next
// change or after settle×10, whichever comes first.
func (r *Router) AutoRebalance(ctx context.Context, settle time.Duration, report func(*MoveReport, error)) {
	var retry <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.stop:
			return
		case <-r.changed:
		case <-retry:
		}
		// Settle: wait until no change for settle.
		for quiet := false; !quiet; {
			select {
			case <-ctx.Done():
				return
			case <-r.stop:
				return
			case <-r.changed:
			case <-time.After(settle):
				quiet = true
			}
		}
		rep, err := r.Rebalance(ctx)
		retry = nil
		if err != nil {
			retry = time.After(10 * settle)
		}
		if report != nil {
			report(rep, err)
		}
	}
}

// ErrInitialized: Bootstrap found a node that already holds shards.
var ErrInitialized = errors.New("cluster: nodes already hold shards")

// Bootstrap creates every logical shard, empty, on its owners. Call it
// once, when the cluster is new: a node answers for a shard only once it
// holds it, so that a node restarted empty fails over instead of
// answering with nothing. It fails with ErrInitialized when any member
// already holds a shard (then the data is there, and Rebalance repairs
// what is missing).
func (r *Router) Bootstrap(ctx context.Context) error {
	r.moveMu.Lock()
	defer r.moveMu.Unlock()
	r.sync()
	p := r.state.Load().p
	for _, name := range p.nodes {
		n := r.node(name)
		if n == nil {
			return fmt.Errorf("%w: %s", ErrNodeDown, name)
		}
		held, err := n.Held(ctx)
		if err != nil {
			return fmt.Errorf("cluster: list shards of %s: %w", name, err)
		}
		if len(held) > 0 {
			return fmt.Errorf("%w: %s holds %d", ErrInitialized, name, len(held))
		}
	}
	var owners []string
	for sh := range p.Shards() {
		for _, o := range p.Owners(owners[:0], sh) {
			if err := r.node(o).FinishImport(ctx, sh); err != nil {
				return fmt.Errorf("cluster: create shard %d on %s: %w", sh, o, err)
			}
		}
	}
	return nil
}
