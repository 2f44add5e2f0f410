// Package scalar holds nearkit's scalar codecs, which quantize each
// coordinate of a vector on its own: SQ8 (one byte per coordinate, with
// per-dimension or uniform ranges learnt from data) and float16 (IEEE 754
// binary16, no training). They keep every coordinate and lose little, and
// are what graph and inverted-list indexes store when memory matters; the
// vector compressors that learn codebooks (PQ and 4-bit fast-scan) are in
// package pq, and OPQ in pq/opq.
//
// An SQ8 codec owns all of its arithmetic — encoding, decoding, the
// per-dimension minima and steps (Mins, Steps), the fast query encoders of
// the integer distance paths (PrepareL2, PrepareDot) and the test of
// whether codes are lossless for given data (Lossless) — so that an index
// never re-derives any of it from sample codes.
//
// Checking rule: every method that returns an error checks its arguments
// (a trained codec, slice lengths, finite values) and reports bad input
// with an error wrapping one of nearkit's sentinels (nearkit.ErrNotTrained,
// nearkit.ErrDimension, nearkit.ErrInvalidVector, nearkit.ErrInvalidConfig;
// nearkit.ErrCorrupt or nearkit.ErrIncompatible when reading). Every
// method whose name ends in Unchecked is the hot-path form for a caller
// that has checked already: it requires what its checked twin would
// verify, does not look at the values, and panics (index out of range) on
// slices that are too short. Nothing else in the package panics.
package scalar

// maxDim bounds dimensions read from files and configurations.
const maxDim = 1 << 16
