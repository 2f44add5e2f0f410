package cluster

import (
	"fmt"
	"slices"
	"sort"
	"testing"
)

func nodeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("node-%d", i)
	}
	return names
}

// balance returns max load / mean load.
func balance(load map[string]int) float64 {
	total, most := 0, 0
	for _, l := range load {
		total += l
		most = max(most, l)
	}
	return float64(most) / (float64(total) / float64(len(load)))
}

// ownerSets returns each shard's owner set.
type owners func(shard int) []string

func placeOwners(p *Placement) owners {
	return func(sh int) []string { return p.Owners(nil, sh) }
}

// moved counts shard replicas in b whose owner was not an owner in a.
func moved(shards int, a, b owners) int {
	n := 0
	for sh := range shards {
		oa := a(sh)
		for _, o := range b(sh) {
			if !slices.Contains(oa, o) {
				n++
			}
		}
	}
	return n
}

// ringPlacement is consistent hashing with virtual nodes, kept in the test
// for the comparison that chose rendezvous with bounded load.
type ringPlacement struct {
	points []uint64
	owner  []string
}

func newRing(nodes []string, vnodes int) *ringPlacement {
	type pt struct {
		h uint64
		n string
	}
	var pts []pt
	for _, n := range nodes {
		h := nameHash(n)
		for v := range vnodes {
			pts = append(pts, pt{mix64(h + uint64(v)*0x9e3779b97f4a7c15), n})
		}
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].h < pts[j].h })
	r := &ringPlacement{}
	for _, p := range pts {
		r.points = append(r.points, p.h)
		r.owner = append(r.owner, p.n)
	}
	return r
}

func (r *ringPlacement) owners(sh int) []string {
	h := mix64(uint64(sh) + 1)
	i := sort.Search(len(r.points), func(i int) bool { return r.points[i] >= h })
	return []string{r.owner[i%len(r.points)]}
}

func (r *ringPlacement) load(shards int) map[string]int {
	m := map[string]int{}
	for sh := range shards {
		m[r.owners(sh)[0]]++
	}
	return m
}

type placementFigures struct {
	balance       float64 // max/mean load
	addMoved      float64 // fraction of replicas moved when one node joins
	removeExtra   int     // replicas moved beyond those the removed node held
	removeMovedFr float64
}

func measureRendezvous(t testing.TB, n, shards, r int, factor float64) placementFigures {
	cfg := Config{Shards: shards, Replicas: r, LoadFactor: factor}
	names := nodeNames(n + 1)
	p, err := Place(cfg, names[:n], 1)
	if err != nil {
		t.Fatal(err)
	}
	grown, _ := Place(cfg, names, 2)
	f := placementFigures{balance: balance(p.Load())}
	f.addMoved = float64(moved(shards, placeOwners(p), placeOwners(grown))) / float64(shards*p.Replicas())
	// Remove each node in turn and keep the worst case.
	for i := range n {
		rest := slices.Delete(slices.Clone(names[:n]), i, i+1)
		q, _ := Place(cfg, rest, 2)
		held := p.Load()[names[i]]
		m := moved(shards, placeOwners(p), placeOwners(q))
		f.removeExtra = max(f.removeExtra, m-held)
		f.removeMovedFr = max(f.removeMovedFr, float64(m)/float64(shards*p.Replicas()))
	}
	return f
}

func measureRing(n, shards, vnodes int) placementFigures {
	names := nodeNames(n + 1)
	a, b := newRing(names[:n], vnodes), newRing(names, vnodes)
	f := placementFigures{balance: balance(a.load(shards))}
	f.addMoved = float64(moved(shards, a.owners, b.owners)) / float64(shards)
	for i := range n {
		rest := slices.Delete(slices.Clone(names[:n]), i, i+1)
		c := newRing(rest, vnodes)
		held := a.load(shards)[names[i]]
		m := moved(shards, a.owners, c.owners)
		f.removeExtra = max(f.removeExtra, m-held)
		f.removeMovedFr = max(f.removeMovedFr, float64(m)/float64(shards))
	}
	return f
}

func TestPlacementTargets(t *testing.T) {
	const n, shards = 8, 256
	for _, r := range []int{1, 2} {
		f := measureRendezvous(t, n, shards, r, 0)
		t.Logf("rendezvous+bounded load R=%d: max/mean %.3f, add 9th moves %.4f (limit %.4f), remove moves %d extra",
			r, f.balance, f.addMoved, 1.25/9, f.removeExtra)
		if f.balance > 1.15 {
			t.Errorf("R=%d: most-loaded node %.3f× the mean, want ≤ 1.15", r, f.balance)
		}
		if f.addMoved > 1.25/9 {
			t.Errorf("R=%d: adding a 9th node moved %.4f of the shards, want ≤ %.4f", r, f.addMoved, 1.25/9)
		}
		// The load cap rises when a node leaves, so a few shards that sat
		// on a lower-ranked node because a better one was full move up:
		// the price of the balance target, bounded here at 1/32 of the
		// replicas (pure consistent hashing moves none but misses the
		// balance target, see the log lines below).
		if limit := shards * r / 32; f.removeExtra > limit {
			t.Errorf("R=%d: removing a node moved %d shard replicas it did not hold, want ≤ %d", r, f.removeExtra, limit)
		}
	}
	for _, v := range []int{64, 256} {
		f := measureRing(n, shards, v)
		t.Logf("consistent hashing, %d vnodes: max/mean %.3f, add 9th moves %.4f, remove moves %d extra", v, f.balance, f.addMoved, f.removeExtra)
	}
}

func TestPlacementDeterministic(t *testing.T) {
	names := nodeNames(5)
	p, err := Place(Config{Replicas: 2}, names, 3)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(names)
	slices.Reverse(rev)
	q, _ := Place(Config{Replicas: 2}, rev, 3)
	for sh := range p.Shards() {
		a, b := p.Owners(nil, sh), q.Owners(nil, sh)
		if !slices.Equal(a, b) || len(a) != 2 || a[0] == a[1] {
			t.Fatalf("shard %d: owners %v and %v", sh, a, b)
		}
	}
	if _, err := Place(Config{}, []string{"a", "a"}, 1); err == nil {
		t.Error("duplicate node accepted")
	}
	if _, err := Place(Config{}, nil, 1); err == nil {
		t.Error("empty node set accepted")
	}
	if _, err := Place(Config{Shards: -1}, names, 1); err == nil {
		t.Error("negative shard count accepted")
	}
	one, _ := Place(Config{Replicas: 3}, names[:1], 1)
	if one.Replicas() != 1 {
		t.Errorf("one node, R=3: effective R %d", one.Replicas())
	}
}

func TestPlan(t *testing.T) {
	names := nodeNames(4)
	cfg := Config{Replicas: 2}
	a, _ := Place(cfg, names[:3], 1)
	b, _ := Place(cfg, names, 2)
	moves, err := Plan(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(moves) == 0 {
		t.Fatal("no moves when a node joined")
	}
	for _, m := range moves {
		if m.To != "" && (len(m.From) == 0 || !b.Owns(m.To, m.Shard) || a.Owns(m.To, m.Shard)) {
			t.Fatalf("bad move %+v", m)
		}
		if m.Drop != "" && b.Owns(m.Drop, m.Shard) {
			t.Fatalf("move drops a new owner: %+v", m)
		}
	}
}

func BenchmarkPlacement(b *testing.B) {
	for _, n := range []int{4, 8, 16, 32, 64} {
		for _, r := range []int{1, 2} {
			b.Run(fmt.Sprintf("method=rendezvous-bounded/nodes=%d/R=%d", n, r), func(b *testing.B) {
				var f placementFigures
				for b.Loop() {
					f = measureRendezvous(b, n, DefaultShards, r, 0)
				}
				b.ReportMetric(f.balance, "max/mean")
				b.ReportMetric(f.addMoved*float64(n+1), "addmoved×N+1")
				b.ReportMetric(float64(f.removeExtra), "remove-extra")
			})
		}
		b.Run(fmt.Sprintf("method=ring-256vnodes/nodes=%d/R=1", n), func(b *testing.B) {
			var f placementFigures
			for b.Loop() {
				f = measureRing(n, DefaultShards, 256)
			}
			b.ReportMetric(f.balance, "max/mean")
			b.ReportMetric(f.addMoved*float64(n+1), "addmoved×N+1")
			b.ReportMetric(float64(f.removeExtra), "remove-extra")
		})
	}
}
