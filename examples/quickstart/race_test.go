//go:build race

package main

// raceEnabled skips the smoke test under the race detector: the program is
// single-threaded, and building its index there takes minutes.
const raceEnabled = true
