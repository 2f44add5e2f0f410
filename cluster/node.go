package cluster

import (
	"context"
	"errors"

	"github.com/nearkit/nearkit"
)

// ErrShardNotHeld: a node was asked to search or export a logical shard it
// does not hold (it never had it, dropped it, or lost it on a restart). The
// router fails over to another replica.
var ErrShardNotHeld = errors.New("cluster: shard not held by node")

// ErrPartial: a search could not reach any replica of some logical shards;
// it wraps a *PartialError naming them.
var ErrPartial = errors.New("cluster: partial results")

// ErrNodeDown: the router has no live connection to a node.
var ErrNodeDown = errors.New("cluster: node down")

// SearchRequest asks a node for the k nearest neighbours of Query over the
// named logical shards, merged.
type SearchRequest struct {
	Shards []int
	Query  []float32
	K      int
	// Opts travel with the request. A Filter cannot cross a network: remote
	// nodes reject requests that carry one.
	Opts nearkit.SearchOptions
}

// Node is one member of the cluster as the router sees it: an in-process
// Local, or a client over any transport (package httpnode has one over
// HTTP/2). Implementations must be safe for concurrent use.
//
// Writes are idempotent so that the router can retry and dual-write during
// moves: Add of an ID the shard already holds with the same vector is a
// no-op (with another vector it is an error wrapping
// nearkit.ErrDuplicateID), and Delete of an absent ID is not an error.
type Node interface {
	// Search returns the merged top-k over req.Shards in ascending
	// (distance, id), with exact distances. It fails with ErrShardNotHeld
	// when the node does not hold one of the shards.
	Search(ctx context.Context, req *SearchRequest) ([]nearkit.Result, error)
	// Add stores len(ids) vectors (contiguous in vecs) in shard, creating
	// the shard when the node does not hold it yet. It is all or nothing.
	Add(ctx context.Context, shard int, ids []uint64, vecs []float32) error
	// Delete removes ids from shard.
	Delete(ctx context.Context, shard int, ids []uint64) error
	// Export streams the shard's vectors in batches to fn; the slices are
	// valid only during the call.
	Export(ctx context.Context, shard int, fn func(ids []uint64, vecs []float32) error) error
	// BeginImport discards any copy of shard the node holds and creates it
	// empty in import mode, where it takes writes and copied vectors but
	// does not serve searches.
	BeginImport(ctx context.Context, shard int) error
	// Import stores copied vectors into shard, creating it in import mode
	// when absent. IDs the shard already holds, and IDs deleted since the
	// shard entered import mode, are skipped: a write that raced the copy
	// wins over the copy.
	Import(ctx context.Context, shard int, ids []uint64, vecs []float32) error
	// FinishImport ends import mode (creating an empty shard when absent);
	// the shard then serves searches.
	FinishImport(ctx context.Context, shard int) error
	// Drop forgets the shard.
	Drop(ctx context.Context, shard int) error
	// Held returns the logical shards the node holds and serves (not
	// those still being imported), ascending. The router's repair pass
	// uses it to find replicas a restarted node lost.
	Held(ctx context.Context) ([]int, error)
}
