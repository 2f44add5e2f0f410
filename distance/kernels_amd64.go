//go:build gc && !purego

package distance

import "golang.org/x/sys/cpu"

//go:generate sh -c "cd _asm && go run . -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg distance"

// Feature bools, read once. useAVX512 implies useAVX2, so
// GODEBUG=cpu.avx2=off switches both off and GODEBUG=cpu.avx512f=off only
// the AVX-512 kernels. The AVX-512 kernels need BW (byte/word widening, byte
// masks), VL (masked 256-bit byte loads) and BMI2 (BZHI builds the tail
// masks); every AVX-512 CPU since Skylake-SP has all three.
var (
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	useAVX512 = useAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW &&
		cpu.X86.HasAVX512VL && cpu.X86.HasBMI2
	// useVNNI selects the VPDPBUSD forms of the 8-bit kernels (Ice Lake
	// and later): no byte-to-word widening, 64 products per instruction.
	useVNNI = useAVX512 && cpu.X86.HasAVX512VNNI
)

func archImplementations() []impl {
	var out []impl
	if useAVX2 {
		avx2 := impl{
			name:             "avx2",
			squaredL2:        squaredL2AVX2,
			dot:              dotAVX2,
			squaredL2Batch:   squaredL2BatchAVX2,
			dotBatch:         dotBatchAVX2,
			squaredL2Gather:  squaredL2GatherAVX2,
			dotGather:        dotGatherAVX2,
			dotUint8:         dotUint8AVX2,
			squaredL2Uint8:   squaredL2Uint8AVX2,
			dotInt8:          dotInt8AVX2,
			squaredL2Int8:    squaredL2Int8AVX2,
			pqLookupSum:      pqLookupSumAVX2,
			pqLookupSumBatch: pqLookupSumBatchAVX2,
		}
		if useF16C {
			avx2.squaredL2Float16 = squaredL2Float16AVX2
			avx2.dotFloat16 = dotFloat16AVX2
		}
		out = append(out, avx2)
	}
	if useAVX512 {
		avx512 := impl{
			name:             "avx512",
			squaredL2:        squaredL2AVX512,
			dot:              dotAVX512,
			squaredL2Batch:   squaredL2BatchAVX512,
			dotBatch:         dotBatchAVX512,
			squaredL2Gather:  squaredL2GatherAVX512,
			dotGather:        dotGatherAVX512,
			dotUint8:         dotUint8AVX512,
			squaredL2Uint8:   squaredL2Uint8AVX512,
			dotInt8:          dotInt8AVX512,
			squaredL2Int8:    squaredL2Int8AVX512,
			pqLookupSum:      pqLookupSumAVX512,
			pqLookupSumBatch: pqLookupSumBatchAVX512,
			squaredL2Float16: squaredL2Float16AVX512,
			dotFloat16:       dotFloat16AVX512,
		}
		if useVNNI {
			// The AVX-512BW byte kernels stay registered (and tested)
			// under their own name; "avx512" is what dispatch runs.
			bw := avx512
			bw.name = "avx512bw"
			out = append(out, bw)
			avx512.dotUint8 = dotUint8VNNI
			avx512.squaredL2Uint8 = squaredL2Uint8VNNI
			avx512.dotInt8 = dotInt8VNNI
			avx512.squaredL2Int8 = squaredL2Int8VNNI
		}
		out = append(out, avx512)
	}
	return out
}

func implementation() string {
	switch {
	case useAVX512:
		return "avx512"
	case useAVX2:
		return "avx2"
	}
	return "generic"
}

// Dispatch prefers AVX-512 for every length: on the development Xeon
// (Sapphire Rapids class) it measured at least as fast as AVX2 at every
// benchmarked dimension (96…1536) for every kernel, and 1.1-1.5× faster from
// dim 256 up. There is no plain-Go path for tiny vectors either: even at
// dim 4 the assembly call beat the generic kernel (BenchmarkSmallDims: 7-9
// vs 11 ns), since the generic kernel is not inlined into this switch
// anyway.
//
// squaredL2 and dot, the entries of the one-to-one float kernels, are
// dispatched in assembly (kernels_amd64.s, see _asm's dispatch): a Go
// switch here would add a call frame to every SquaredL2 and Dot call and
// keep them from inlining. Their race-detector hooks sit in the exported
// functions.

func squaredL2Batch(q, data []float32, dim int, out []float32) {
	if raceEnabled {
		raceRead(q)
		raceRead(data[:len(out)*dim])
		raceWrite(out)
	}
	switch {
	case useAVX512:
		squaredL2BatchAVX512(q, data, dim, out)
	case useAVX2:
		squaredL2BatchAVX2(q, data, dim, out)
	default:
		squaredL2BatchGeneric(q, data, dim, out)
	}
}

func dotBatch(q, data []float32, dim int, out []float32) {
	if raceEnabled {
		raceRead(q)
		raceRead(data[:len(out)*dim])
		raceWrite(out)
	}
	switch {
	case useAVX512:
		dotBatchAVX512(q, data, dim, out)
	case useAVX2:
		dotBatchAVX2(q, data, dim, out)
	default:
		dotBatchGeneric(q, data, dim, out)
	}
}

func squaredL2Gather(q, data []float32, dim int, rows []uint32, out []float32) {
	if raceEnabled {
		raceRead(q)
		raceRead(rows)
		for _, r := range rows {
			raceRead(data[int(r)*dim:][:dim])
		}
		raceWrite(out)
	}
	switch {
	case useAVX512:
		squaredL2GatherAVX512(q, data, dim, rows, out)
	case useAVX2:
		squaredL2GatherAVX2(q, data, dim, rows, out)
	default:
		squaredL2GatherGeneric(q, data, dim, rows, out)
	}
}

func dotGather(q, data []float32, dim int, rows []uint32, out []float32) {
	if raceEnabled {
		raceRead(q)
		raceRead(rows)
		for _, r := range rows {
			raceRead(data[int(r)*dim:][:dim])
		}
		raceWrite(out)
	}
	switch {
	case useAVX512:
		dotGatherAVX512(q, data, dim, rows, out)
	case useAVX2:
		dotGatherAVX2(q, data, dim, rows, out)
	default:
		dotGatherGeneric(q, data, dim, rows, out)
	}
}

func dotUint8(a, b []uint8) uint32 {
	if raceEnabled {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useVNNI:
		return dotUint8VNNI(a, b)
	case useAVX512:
		return dotUint8AVX512(a, b)
	case useAVX2:
		return dotUint8AVX2(a, b)
	}
	return dotUint8Generic(a, b)
}

func squaredL2Uint8(a, b []uint8) uint32 {
	if raceEnabled {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useVNNI:
		return squaredL2Uint8VNNI(a, b)
	case useAVX512:
		return squaredL2Uint8AVX512(a, b)
	case useAVX2:
		return squaredL2Uint8AVX2(a, b)
	}
	return squaredL2Uint8Generic(a, b)
}

func dotInt8(a, b []int8) int32 {
	if raceEnabled {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useVNNI:
		return dotInt8VNNI(a, b)
	case useAVX512:
		return dotInt8AVX512(a, b)
	case useAVX2:
		return dotInt8AVX2(a, b)
	}
	return dotInt8Generic(a, b)
}

func squaredL2Int8(a, b []int8) uint32 {
	if raceEnabled {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useVNNI:
		return squaredL2Int8VNNI(a, b)
	case useAVX512:
		return squaredL2Int8AVX512(a, b)
	case useAVX2:
		return squaredL2Int8AVX2(a, b)
	}
	return squaredL2Int8Generic(a, b)
}

// The PQ kernels look up 8 (AVX2) or 16 (AVX-512) subquantizers per
// VGATHERDPS, 4-5× the scalar loop's throughput on this machine. Below 16
// subquantizers the AVX-512 kernel runs one masked, half-empty gather and
// loses to AVX2's full 8-lane one (m=8 batch: 2.2 vs 3.4 lookups/ns), so it
// is used from m=16 only.
func pqLookupSum(table []float32, code []uint8) float32 {
	if raceEnabled {
		raceRead(code)
		raceRead(table[:256*len(code)])
	}
	switch {
	case useAVX512 && len(code) >= 16:
		return pqLookupSumAVX512(table, code)
	case useAVX2:
		return pqLookupSumAVX2(table, code)
	}
	return pqLookupSumGeneric(table, code)
}

func pqLookupSumBatch(table []float32, codes []uint8, m int, out []float32) {
	if raceEnabled {
		raceRead(codes[:len(out)*m])
		raceRead(table[:256*m])
		raceWrite(out)
	}
	switch {
	case useAVX512 && m >= 16:
		pqLookupSumBatchAVX512(table, codes, m, out)
	case useAVX2:
		pqLookupSumBatchAVX2(table, codes, m, out)
	default:
		pqLookupSumBatchGeneric(table, codes, m, out)
	}
}
