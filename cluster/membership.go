package cluster

import (
	"slices"
	"sync"
)

// Member is one node as membership knows it: a unique name and the address
// its transport listens on (empty for in-process nodes).
type Member struct {
	Name string
	Addr string
}

// Membership is the current node set and a notification when it changes.
// Package gossip (its own module) has one over hashicorp/memberlist.
// Implementations must be safe for concurrent use.
type Membership interface {
	// Members returns the live members, sorted by name.
	Members() []Member
	// Changes returns a channel that receives a value (coalesced, never
	// blocking the sender) after each change of the member set.
	Changes() <-chan struct{}
}

// Static is a Membership the host sets by hand: for tests and fixed
// deployments. It is safe for concurrent use.
type Static struct {
	mu      sync.Mutex
	members []Member
	ch      chan struct{}
}

// NewStatic returns a membership holding members.
func NewStatic(members ...Member) *Static {
	s := &Static{ch: make(chan struct{}, 1)}
	s.Set(members...)
	return s
}

// Set replaces the member set and notifies.
func (s *Static) Set(members ...Member) {
	m := slices.Clone(members)
	slices.SortFunc(m, func(a, b Member) int {
		if a.Name < b.Name {
			return -1
		} else if a.Name > b.Name {
			return 1
		}
		return 0
	})
	s.mu.Lock()
	s.members = m
	s.mu.Unlock()
	select {
	case s.ch <- struct{}{}:
	default:
	}
}

// Members implements Membership.
func (s *Static) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.members)
}

// Changes implements Membership.
func (s *Static) Changes() <-chan struct{} { return s.ch }
