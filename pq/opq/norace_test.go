//go:build !race

package opq

const raceEnabled = false
