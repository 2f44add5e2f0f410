//go:build !amd64 || !gc || purego

package distance

// No half-precision assembly outside amd64 yet (arm64 would widen with
// FCVTL): the generic kernels everywhere else.

func squaredL2Float16(q []float32, x []uint16) float32 { return squaredL2Float16Generic(q, x) }
func dotFloat16(q []float32, x []uint16) float32       { return dotFloat16Generic(q, x) }
