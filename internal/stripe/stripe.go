// Package stripe serialises operations on the same key without one lock
// for everything: a fixed array of mutexes, a key's hash picking one.
// durable and collection hold a key's stripe across logging and applying
// an operation, so that operations on one key reach the log in the order
// they are applied.
package stripe

import "sync"

// size is the number of stripes: with 16 concurrent writers on distinct
// keys, two share a stripe (and one waits for the other's fsync) in about
// one round in nine.
const size = 1024

// Locks is a set of striped mutexes. The zero value is ready.
type Locks [size]sync.Mutex

func index(h uint64) uint64 { return (h * 0x9e3779b97f4a7c15) >> 54 }

// Of returns the mutex of hash h.
func (l *Locks) Of(h uint64) *sync.Mutex { return &l[index(h)] }

// LockAll locks the stripes of the hashes hs in ascending order (so that
// two callers can never deadlock) and returns the function that unlocks
// them.
func (l *Locks) LockAll(hs []uint64) (unlock func()) {
	var set [size / 64]uint64
	for _, h := range hs {
		i := index(h)
		set[i/64] |= 1 << (i % 64)
	}
	for i := range size {
		if set[i/64]&(1<<(i%64)) != 0 {
			l[i].Lock()
		}
	}
	return func() {
		for i := range size {
			if set[i/64]&(1<<(i%64)) != 0 {
				l[i].Unlock()
			}
		}
	}
}
