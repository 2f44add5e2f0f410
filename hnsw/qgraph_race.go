//go:build race

package hnsw

import (
	"sync/atomic"
	"unsafe"
)

// qgLoadBlock copies blk with atomic loads into sc.blk: under the race
// detector a kernel reading the words in place would be reported
// against the writers' atomic stores (see qgraph_norace.go).
func qgLoadBlock(sc *qgScratch, blk []uint32) []byte {
	if cap(sc.blk) < 4*len(blk) {
		sc.blk = make([]byte, 4*len(blk))
	}
	b := sc.blk[:4*len(blk)]
	for i := range blk {
		*(*uint32)(unsafe.Pointer(&b[4*i])) = atomic.LoadUint32(&blk[i])
	}
	return b
}
