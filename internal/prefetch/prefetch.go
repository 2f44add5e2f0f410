// Package prefetch issues software prefetch hints, the Go counterpart of
// hnswlib's _mm_prefetch(p, _MM_HINT_T0): a graph search knows which
// vectors and link lists it will read a few hundred nanoseconds before it
// reads them, and asking the memory system for them early overlaps the
// cache misses instead of paying them one after another.
//
// On amd64 (PREFETCHT0) and arm64 (PRFM PLDL1KEEP) the hints are tiny
// assembly functions; elsewhere, and with -tags purego, they are no-ops. A
// prefetch never faults, whatever the address, and never changes what a
// program computes, so the fallback is always correct, just slower.
//
// An assembly call is not inlined (about 1–2 ns), so prefetching a
// multi-line object (a 784-dimensional vector is 49 cache lines) goes
// through Range, one call for the whole object, rather than one call per
// line.
package prefetch

import "unsafe"

// Line asks for the cache line holding p to be brought into all cache
// levels. It is a hint: it has no effect on results.
func Line(p unsafe.Pointer) { line(p) }

// Range asks for the cache lines covering the n bytes from p. Only every
// 64th byte is touched, so the cost is one hint per cache line.
func Range(p unsafe.Pointer, n uintptr) {
	if n == 0 {
		return
	}
	rangeLines(p, n)
}

// Enabled reports whether the hints reach the hardware (false for the
// no-op fallback), for benchmarks that compare with and without.
func Enabled() bool { return enabled }
