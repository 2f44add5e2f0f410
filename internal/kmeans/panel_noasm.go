//go:build !amd64 || !gc || purego

package kmeans

// hasPanel is false: without the AVX-512 kernel the assignment step uses
// the distance package's batch kernels (NEON on arm64, Go elsewhere).
const hasPanel = false

func panelArgmin(x []float32, dim int, panels []float32, npanels int, norms []float32, base int32, bestV []float32, bestI []int32) {
	panic("kmeans: panel kernel not available")
}
