package hnsw

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nearkit/nearkit"
)

// The index's lifetime: grace periods, read-only (memory-mapped) mode and
// Close.
//
// Grace periods use two counters of operations in flight and an epoch
// number (classic RCU with counters): an operation registers in the
// counter of the current epoch; synchronize advances the epoch and waits
// for the previous epoch's counter to drain. A search pays two atomic
// additions and two loads, nothing per visited node.

// ErrClosed is returned by every method of an Index after Close.
var ErrClosed = errors.New("hnsw: index is closed")

// counter is an int64 alone on its cache line, so operations registering
// in one epoch do not slow down loads of the epoch number.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// lifecycle is the state of deletion, reuse and Close, embedded in Index.
type lifecycle struct {
	epoch  atomic.Uint64
	_      [56]byte
	active [2]counter
	syncMu sync.Mutex // one grace period at a time

	closed   atomic.Bool
	readOnly bool         // memory-mapped: mutations fail with ErrReadOnly
	unmap    func() error // releases the mapping (memory-mapped indexes)
	mapped   int64        // bytes of the mapped file

	vacuumMu sync.Mutex
	free     []uint32 // reusable slots, ascending (guarded by idMu)

	// gated is set while Optimize renumbers the slots; operations that
	// register then wait on gate, which Optimize holds.
	gated atomic.Bool
	gate  sync.RWMutex
}

// enter registers an operation that reads the graph and returns the token
// leave needs; it fails only when the index is closed.
func (x *Index) enter() (uint64, error) {
	lc := &x.life
	for {
		e := lc.epoch.Load()
		lc.active[e&1].n.Add(1)
		// If a grace period started between the load and the increment,
		// it may not have seen the increment: register again in the new
		// epoch (sync/atomic is sequentially consistent).
		if lc.epoch.Load() == e {
			if lc.closed.Load() {
				lc.active[e&1].n.Add(-1)
				return 0, ErrClosed
			}
			if !lc.gated.Load() {
				return e, nil
			}
			// Optimize is renumbering the slots: step back out of its
			// grace period and wait for it to finish.
			lc.active[e&1].n.Add(-1)
			lc.gate.RLock()
			lc.gate.RUnlock()
			continue
		}
		lc.active[e&1].n.Add(-1)
	}
}

// leave ends an operation registered by enter.
func (x *Index) leave(e uint64) { x.life.active[e&1].n.Add(-1) }

// synchronize waits until every operation registered before the call has
// left. The caller must not be registered itself.
func (x *Index) synchronize() {
	lc := &x.life
	lc.syncMu.Lock()
	defer lc.syncMu.Unlock()
	old := lc.epoch.Add(1) - 1
	c := &lc.active[old&1].n
	for i := 0; c.Load() != 0; i++ {
		// Searches take microseconds, insertions a millisecond or so:
		// yield first, then sleep with a growing pause.
		if i < 50 {
			runtime.Gosched()
		} else {
			time.Sleep(time.Duration(min(i-49, 100)) * 10 * time.Microsecond)
		}
	}
}

// writable reports why the index cannot be changed; the caller holds
// writeMu (shared or exclusive), which Close takes exclusively, so the
// answer holds until the caller releases it.
func (x *Index) writable() error {
	if x.life.closed.Load() {
		return ErrClosed
	}
	if x.life.readOnly {
		return fmt.Errorf("%w: hnsw: memory-mapped index", nearkit.ErrReadOnly)
	}
	return nil
}

// Close releases the index: it waits for the operations in flight, then
// unmaps a memory-mapped index's file or drops an in-memory index's
// storage. Every later call fails with ErrClosed (Len reports 0); none
// crashes. Close is idempotent.
func (x *Index) Close() error {
	if x.life.closed.Swap(true) {
		return nil
	}
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	// Searches registered before the flag was set finish first; later ones
	// see it and fail.
	x.synchronize()
	x.dir.Store(&directory{})
	x.pool.Store(&upperPool{})
	x.entry.Store(emptyEntry)
	x.idMu.Lock()
	x.ids = map[uint64]uint32{}
	x.life.free = nil
	x.idMu.Unlock()
	if x.life.unmap != nil {
		return x.life.unmap()
	}
	return nil
}
