//go:build race

package ivf

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// zero-allocation checks do not hold under it.
const raceEnabled = true
