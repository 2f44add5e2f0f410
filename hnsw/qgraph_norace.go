//go:build !race

package hnsw

import "unsafe"

// qgLoadBlock returns the bytes of blk for the fast-scan kernel. Writers
// store block words atomically while searches read them (see
// qgraph.go); on the architectures the kernel runs on, a plain load of
// an aligned word is atomic, so the kernel reads the block in place.
func qgLoadBlock(_ *qgScratch, blk []uint32) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(blk))), 4*len(blk))
}
