// Package gossip is a cluster.Membership over hashicorp/memberlist, the
// SWIM gossip library: nodes find each other from any one address, each
// node's transport address travels in its gossip metadata, and nodes that
// die are found by memberlist's failure detector (probes, indirect
// probes, then suspicion) and leave the member set.
//
// It lives in its own module so that nearkit's root module takes no
// dependency on memberlist.
package gossip

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
)

// Config configures a Membership.
type Config struct {
	// Name is the node's unique name in the cluster.
	Name string
	// Addr is the node's transport address (an httpnode base URL), given
	// to every other member in the gossip metadata.
	Addr string
	// BindAddr and BindPort are where memberlist listens, TCP and UDP
	// (127.0.0.1 and a free port when empty and 0).
	BindAddr string
	BindPort int
	// Join lists gossip addresses ("host:port") of existing members; empty
	// for the first node.
	Join []string
	// Memberlist, when not nil, is the base memberlist configuration
	// (timing, encryption, …); Name, bind address, delegates and events
	// are set from this Config. DefaultLANConfig when nil.
	Memberlist *memberlist.Config
	// Logger receives memberlist's log; discarded when nil.
	Logger *log.Logger
}

// Membership is the live member set of a memberlist cluster. It is safe
// for concurrent use.
type Membership struct {
	ml   *memberlist.Memberlist
	meta []byte
	addr string // gossip host:port
	ch   chan struct{}

	mu     sync.Mutex
	closed bool
	// members is kept from memberlist's event callbacks, which run under
	// its node lock: the *Node values memberlist.Members returns are
	// updated in place later, so reading their Meta outside the callbacks
	// would race.
	members map[string]string // name → transport address
}

var _ cluster.Membership = (*Membership)(nil)

// maxMeta is memberlist's metadata limit.
const maxMeta = memberlist.MetaMaxSize

// New starts gossiping and joins cfg.Join.
func New(cfg Config) (*Membership, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: gossip: empty node name", nearkit.ErrInvalidConfig)
	}
	if len(cfg.Addr) > maxMeta {
		return nil, fmt.Errorf("%w: gossip: address of %d bytes, limit %d", nearkit.ErrInvalidConfig, len(cfg.Addr), maxMeta)
	}
	mc := cfg.Memberlist
	if mc == nil {
		mc = memberlist.DefaultLANConfig()
	} else {
		c := *mc
		mc = &c
	}
	m := &Membership{meta: []byte(cfg.Addr), ch: make(chan struct{}, 1), members: map[string]string{}}
	mc.Name = cfg.Name
	mc.BindAddr = cfg.BindAddr
	if mc.BindAddr == "" {
		mc.BindAddr = "127.0.0.1"
	}
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr, mc.AdvertisePort = "", 0
	mc.Delegate = delegate{m}
	mc.Events = events{m}
	if cfg.Logger != nil {
		mc.Logger = cfg.Logger
	} else {
		mc.LogOutput = io.Discard
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	m.ml = ml
	// Create wrote the port it bound back into mc when BindPort was 0.
	m.addr = net.JoinHostPort(mc.BindAddr, strconv.Itoa(mc.BindPort))
	if len(cfg.Join) > 0 {
		if _, err := ml.Join(cfg.Join); err != nil {
			ml.Shutdown()
			return nil, fmt.Errorf("gossip: join %s: %w", strings.Join(cfg.Join, ","), err)
		}
	}
	return m, nil
}

// GossipAddr returns the "host:port" other nodes join through.
func (m *Membership) GossipAddr() string {
	return m.addr
}

// Members implements cluster.Membership: the members memberlist does not
// consider dead or gone, sorted by name.
//
// Suspected members are included. SWIM's suspicion is the state in which a
// node that missed probes may still refute the charge, and memberlist
// (v0.7.0) reports no suspicion through its API: its event delegate hears
// of joins, updates and leaves only, and the Node values it hands out do
// not follow the state. A node is taken out when memberlist declares it
// dead, after the suspicion timeout. Until then the router does not treat
// it as healthy on memberlist's word but on its own: a node whose search
// failed is asked only after its shards' other replicas for
// cluster.RouterConfig.SuspectFor (TestThreeNodes counts the requests a
// crashed node gets before it is declared dead).
func (m *Membership) Members() []cluster.Member {
	m.mu.Lock()
	out := make([]cluster.Member, 0, len(m.members))
	for name, addr := range m.members {
		out = append(out, cluster.Member{Name: name, Addr: addr})
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b cluster.Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Changes implements cluster.Membership.
func (m *Membership) Changes() <-chan struct{} { return m.ch }

func (m *Membership) notify() {
	select {
	case m.ch <- struct{}{}:
	default:
	}
}

// Leave tells the others this node is going (they drop it at once rather
// than after the suspicion timeout), then stops gossiping.
func (m *Membership) Leave(timeout time.Duration) error {
	err := m.ml.Leave(timeout)
	return errors.Join(err, m.Shutdown())
}

// Shutdown stops gossiping without a goodbye, as a crash would: the
// others find out through the failure detector.
func (m *Membership) Shutdown() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.ml.Shutdown()
}

type delegate struct{ m *Membership }

func (d delegate) NodeMeta(limit int) []byte {
	if len(d.m.meta) > limit {
		return nil
	}
	return d.m.meta
}
func (delegate) NotifyMsg([]byte)                           {}
func (delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (delegate) LocalState(join bool) []byte                { return nil }
func (delegate) MergeRemoteState(buf []byte, join bool)     {}

type events struct{ m *Membership }

func (e events) NotifyJoin(n *memberlist.Node)   { e.set(n.Name, string(n.Meta), true) }
func (e events) NotifyUpdate(n *memberlist.Node) { e.set(n.Name, string(n.Meta), true) }
func (e events) NotifyLeave(n *memberlist.Node)  { e.set(n.Name, "", false) }

func (e events) set(name, addr string, alive bool) {
	e.m.mu.Lock()
	if alive {
		e.m.members[name] = addr
	} else {
		delete(e.m.members, name)
	}
	e.m.mu.Unlock()
	e.m.notify()
}
