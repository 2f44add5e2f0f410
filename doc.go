// Package nearkit is an embeddable approximate-nearest-neighbour search
// library in pure Go.
//
// This root package holds the contract every index follows: the Index
// interface, Result, SearchOptions, filters, the sentinel errors, and
// crash-safe saving. The indexes live in their own packages:
//
//   - flat: exact brute-force search (the ground truth for the others).
//   - hnsw: hierarchical navigable small-world graphs.
//   - pq: product quantization and 4-bit fast-scan; pq/opq: OPQ, a
//     learnt rotation before PQ.
//   - scalar: the scalar codecs SQ8 and float16, which hnsw stores.
//
// The vector kernels they share live in package distance.
//
// User IDs are uint64 values chosen by the caller; each index maps them to
// dense internal slots. Distances are "smaller is closer" for every metric
// (see distance.Metric).
package nearkit
