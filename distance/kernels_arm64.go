//go:build gc && !purego

package distance

// Placeholder until the arm64 assembly lands: the generic kernels.
func archImplementations() []impl { return nil }

func implementation() string { return "generic" }

func squaredL2(a, b []float32) float32 { return squaredL2Generic(a, b) }
func dot(a, b []float32) float32       { return dotGeneric(a, b) }
func squaredL2Batch(q, data []float32, dim int, out []float32) {
	squaredL2BatchGeneric(q, data, dim, out)
}
func dotBatch(q, data []float32, dim int, out []float32) { dotBatchGeneric(q, data, dim, out) }
func squaredL2Gather(q, data []float32, dim int, rows []uint32, out []float32) {
	squaredL2GatherGeneric(q, data, dim, rows, out)
}
func dotGather(q, data []float32, dim int, rows []uint32, out []float32) {
	dotGatherGeneric(q, data, dim, rows, out)
}
func dotUint8(a, b []uint8) uint32       { return dotUint8Generic(a, b) }
func squaredL2Uint8(a, b []uint8) uint32 { return squaredL2Uint8Generic(a, b) }
func dotInt8(a, b []int8) int32          { return dotInt8Generic(a, b) }
func squaredL2Int8(a, b []int8) uint32   { return squaredL2Int8Generic(a, b) }
func pqLookupSum(table []float32, code []uint8) float32 {
	return pqLookupSumGeneric(table, code)
}
func pqLookupSumBatch(table []float32, codes []uint8, m int, out []float32) {
	pqLookupSumBatchGeneric(table, codes, m, out)
}
