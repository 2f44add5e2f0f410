//go:build race

package hnsw

// raceEnabled: the race detector makes sync.Pool drop items at random (so
// zero-allocation checks do not hold) and slows everything ~10×.
const raceEnabled = true
