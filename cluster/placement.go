package cluster

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/nearkit/nearkit"
)

// DefaultShards is the number of logical shards when Config.Shards is 0.
const DefaultShards = 256

// maxShards bounds the logical shard count: placement holds a table of
// Shards×R entries and every move is a whole shard.
const maxShards = 1 << 16

// DefaultLoadFactor bounds the most-loaded node at this multiple of the
// mean when Config.LoadFactor is 0.
const DefaultLoadFactor = 1.15

// Config is a cluster's fixed configuration. Every process of a cluster
// must use the same Config: together with the node set it decides
// placement.
type Config struct {
	// Shards is the number of logical shards IDs hash to (DefaultShards
	// when 0). It is fixed for the life of the data.
	Shards int
	// Replicas is the replication factor R (1 when 0): each logical shard
	// lives on R distinct nodes, or on every node when there are fewer.
	Replicas int
	// LoadFactor caps every node's shard count at
	// floor(LoadFactor × Shards × R / nodes), at least the ceiling of the
	// mean (DefaultLoadFactor when 0; must be ≥ 1).
	LoadFactor float64
}

func (c Config) withDefaults() (Config, error) {
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.LoadFactor == 0 {
		c.LoadFactor = DefaultLoadFactor
	}
	switch {
	case c.Shards < 1 || c.Shards > maxShards:
		return c, fmt.Errorf("%w: cluster: Shards=%d, want 1..%d", nearkit.ErrInvalidConfig, c.Shards, maxShards)
	case c.Replicas < 1 || c.Replicas > 16:
		return c, fmt.Errorf("%w: cluster: Replicas=%d, want 1..16", nearkit.ErrInvalidConfig, c.Replicas)
	case !(c.LoadFactor >= 1 && c.LoadFactor <= 16):
		return c, fmt.Errorf("%w: cluster: LoadFactor=%v, want 1..16", nearkit.ErrInvalidConfig, c.LoadFactor)
	}
	return c, nil
}

// ShardOf returns the logical shard of id among n shards. The ID is mixed
// first, so sequential IDs spread evenly.
func ShardOf(id uint64, n int) int {
	return int(mix64(id) % uint64(n))
}

// mix64 is the splitmix64 finaliser: a bijection with good avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return mix64(h.Sum64())
}

// Placement maps every logical shard to its R owners. It is a pure function
// of the Config, the node names and the epoch it is labelled with, so every
// process that sees the same node set computes the same placement.
//
// A Placement is immutable and safe for concurrent use.
type Placement struct {
	Epoch  uint64
	cfg    Config
	nodes  []string // sorted
	owners []int32  // shard*R+j → index into nodes; owners[shard*R] is the primary
	r      int
	all    []int // 0..Shards-1, what a search asks for
}

// Place computes the placement of cfg.Shards logical shards over nodes
// (names must be distinct and non-empty) and labels it with epoch.
//
// The method is rendezvous (highest-random-weight) hashing with bounded
// load: every shard ranks the nodes by a hash of (shard, node), and takes
// its R best-ranked nodes that are still under the load cap, shards
// visited in the order of their own hash. Pure rendezvous hashing moves
// only the shards a removed node held and only the shards an added node
// wins, but leaves the most-loaded node 1.2–1.5× the mean at 256 shards on
// 8 nodes (consistent hashing with 256 virtual nodes: 1.22×); the cap
// brings that to the configured factor at a price: when a node leaves the
// cap rises, and the few shards that sat on a lower-ranked node because a
// better one was full move up (8 of 256 at R=1, 2 of 512 at R=2, on top of
// the removed node's own shards) (TestPlacementTargets and BenchmarkPlacement hold the
// numbers, with consistent hashing over virtual nodes for comparison).
func Place(cfg Config, nodes []string, epoch uint64) (*Placement, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%w: cluster: no nodes", nearkit.ErrEmpty)
	}
	names := slices.Clone(nodes)
	slices.Sort(names)
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("%w: cluster: empty node name", nearkit.ErrInvalidConfig)
		}
		if i > 0 && names[i-1] == n {
			return nil, fmt.Errorf("%w: cluster: node %q listed twice", nearkit.ErrInvalidConfig, n)
		}
	}
	r := min(cfg.Replicas, len(names))
	p := &Placement{Epoch: epoch, cfg: cfg, nodes: names, r: r, owners: make([]int32, cfg.Shards*r), all: make([]int, cfg.Shards)}
	for i := range p.all {
		p.all[i] = i
	}
	p.assign()
	return p, nil
}

func (p *Placement) assign() {
	n := len(p.nodes)
	s := p.cfg.Shards
	total := s * p.r
	capacity := max(int(p.cfg.LoadFactor*float64(total)/float64(n)), (total+n-1)/n)
	hashes := make([]uint64, n)
	for i, name := range p.nodes {
		hashes[i] = nameHash(name)
	}
	order := make([]int, s)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Compare(mix64(uint64(a)^0x9e3779b97f4a7c15), mix64(uint64(b)^0x9e3779b97f4a7c15))
	})
	load := make([]int, n)
	rank := make([]int, n)
	score := make([]uint64, n)
	for _, sh := range order {
		sk := mix64(uint64(sh) + 1)
		for i := range rank {
			rank[i] = i
			score[i] = mix64(hashes[i] ^ sk)
		}
		slices.SortFunc(rank, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
		j := 0
		for _, nd := range rank {
			if load[nd] >= capacity {
				continue
			}
			load[nd]++
			p.owners[sh*p.r+j] = int32(nd)
			if j++; j == p.r {
				break
			}
		}
	}
}

// Shards returns the number of logical shards.
func (p *Placement) Shards() int { return p.cfg.Shards }

// Replicas returns the effective replication factor (at most the number of
// nodes).
func (p *Placement) Replicas() int { return p.r }

// Config returns the configuration the placement was computed with,
// defaults filled in.
func (p *Placement) Config() Config { return p.cfg }

// Nodes returns the node names in sorted order.
func (p *Placement) Nodes() []string { return slices.Clone(p.nodes) }

// Owners appends to dst the names of the R owners of shard, primary first.
func (p *Placement) Owners(dst []string, shard int) []string {
	for _, o := range p.owners[shard*p.r : (shard+1)*p.r] {
		dst = append(dst, p.nodes[o])
	}
	return dst
}

// Owns reports whether node holds a replica of shard.
func (p *Placement) Owns(node string, shard int) bool {
	for _, o := range p.owners[shard*p.r : (shard+1)*p.r] {
		if p.nodes[o] == node {
			return true
		}
	}
	return false
}

// Load returns each node's number of shard replicas, by node name.
func (p *Placement) Load() map[string]int {
	m := make(map[string]int, len(p.nodes))
	for _, n := range p.nodes {
		m[n] = 0
	}
	for _, o := range p.owners {
		m[p.nodes[o]]++
	}
	return m
}

// Move is one shard replica changing hands: copy Shard from From (any
// current owner holds it) to To, then drop it from Drop (empty when the
// old owner stays an owner or has left the cluster).
type Move struct {
	Shard int
	From  []string // owners in the old placement still reachable, primary first
	To    string
	Drop  string
}

// Plan returns the moves that take the cluster from placement old to new:
// one per (shard, new owner) pair that old did not have. A node that is in
// old but not in new appears as a source only when it is alive in the new
// node set (it never is), so its shards are copied from surviving replicas.
func Plan(old, new *Placement) ([]Move, error) {
	if old.cfg.Shards != new.cfg.Shards {
		return nil, fmt.Errorf("%w: cluster: shard counts differ (%d and %d)", nearkit.ErrIncompatible, old.cfg.Shards, new.cfg.Shards)
	}
	alive := make(map[string]bool, len(new.nodes))
	for _, n := range new.nodes {
		alive[n] = true
	}
	var moves []Move
	var oldOwn, newOwn []string
	for sh := range new.cfg.Shards {
		oldOwn = old.Owners(oldOwn[:0], sh)
		newOwn = new.Owners(newOwn[:0], sh)
		var from []string
		for _, o := range oldOwn {
			if alive[o] {
				from = append(from, o)
			}
		}
		var leaving []string
		for _, o := range oldOwn {
			if alive[o] && !slices.Contains(newOwn, o) {
				leaving = append(leaving, o)
			}
		}
		for _, n := range newOwn {
			if slices.Contains(oldOwn, n) {
				continue
			}
			m := Move{Shard: sh, From: from, To: n}
			if len(leaving) > 0 {
				m.Drop, leaving = leaving[0], leaving[1:]
			}
			moves = append(moves, m)
		}
		for _, l := range leaving {
			moves = append(moves, Move{Shard: sh, Drop: l})
		}
	}
	return moves, nil
}
