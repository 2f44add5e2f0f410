package nearkit

import "errors"

// Sentinel errors returned (wrapped with context) by every index. Test for
// them with errors.Is.
var (
	// ErrDimension: a vector's length differs from the index dimension.
	ErrDimension = errors.New("nearkit: dimension mismatch")
	// ErrInvalidVector: a vector holds NaN or ±Inf.
	ErrInvalidVector = errors.New("nearkit: vector contains NaN or Inf")
	// ErrInvalidK: k ≤ 0.
	ErrInvalidK = errors.New("nearkit: k must be positive")
	// ErrDuplicateID: Add was given an ID the index already holds.
	ErrDuplicateID = errors.New("nearkit: duplicate id")
	// ErrUnknownID: the ID is not in the index.
	ErrUnknownID = errors.New("nearkit: unknown id")
	// ErrEmpty: the operation needs a non-empty index or input (training,
	// for example). Searching an empty index is not an error: it returns
	// no results.
	ErrEmpty = errors.New("nearkit: empty index or input")
	// ErrCorrupt: a file or stream is truncated, fails its checksum, or
	// holds values out of range.
	ErrCorrupt = errors.New("nearkit: corrupt or truncated data")
	// ErrIncompatible: a file was written by another index type, an
	// unsupported format version, or for different parameters.
	ErrIncompatible = errors.New("nearkit: incompatible file")
	// ErrInvalidConfig: a configuration or option value is out of range.
	ErrInvalidConfig = errors.New("nearkit: invalid configuration")
	// ErrNotTrained: the index or quantizer must be trained first.
	ErrNotTrained = errors.New("nearkit: not trained")
	// ErrReadOnly: the index was opened read-only (memory-mapped).
	ErrReadOnly = errors.New("nearkit: index is read-only")
)
