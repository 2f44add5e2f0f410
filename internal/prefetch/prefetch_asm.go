//go:build (amd64 || arm64) && gc && !purego

package prefetch

import "unsafe"

const enabled = true

// line prefetches one cache line.
//
//go:noescape
func line(p unsafe.Pointer)

// rangeLines prefetches the lines covering [p, p+n), n > 0.
//
//go:noescape
func rangeLines(p unsafe.Pointer, n uintptr)
