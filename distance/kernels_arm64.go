//go:build gc && !purego

package distance

import "golang.org/x/sys/cpu"

// Feature bools, read once. ASIMD (NEON) is architecturally mandatory on
// arm64, but reading it keeps the dispatch honest on a kernel that does not
// report it. The dot-product extension (UDOT/SDOT, ARMv8.2) is optional:
// Cortex-A53/A57/A72 lack it, Neoverse N1 and later and Apple cores have it.
var (
	useNEON    = cpu.ARM64.HasASIMD
	useDotProd = useNEON && cpu.ARM64.HasASIMDDP
)

// The assembly kernels in kernels_arm64.s. Each reads len(a) elements of a
// and b (callers guarantee len(b) >= len(a)), handles any length in the
// kernel and never reads past it. The doc comment of each is its Go
// reference; results agree with it up to float32 rounding (the assembly
// sums in a different order) and exactly for the integer kernels.

// dotNEON returns
//
//	for i := range a { s += a[i] * b[i] }
//
//go:noescape
func dotNEON(a, b []float32) float32

// squaredL2NEON returns
//
//	for i := range a { d := a[i] - b[i]; s += d * d }
//
//go:noescape
func squaredL2NEON(a, b []float32) float32

// dotBatchNEON sets, for each i < len(out),
//
//	out[i] = dot(q[:dim], data[i*dim:(i+1)*dim])
//
//go:noescape
func dotBatchNEON(q, data []float32, dim int, out []float32)

// squaredL2BatchNEON sets, for each i < len(out),
//
//	out[i] = squaredL2(q[:dim], data[i*dim:(i+1)*dim])
//
//go:noescape
func squaredL2BatchNEON(q, data []float32, dim int, out []float32)

// dotGatherNEON sets, for each i < len(rows),
//
//	r := int(rows[i]); out[i] = dot(q[:dim], data[r*dim:(r+1)*dim])
//
//go:noescape
func dotGatherNEON(q, data []float32, dim int, rows []uint32, out []float32)

// squaredL2GatherNEON sets, for each i < len(rows),
//
//	r := int(rows[i]); out[i] = squaredL2(q[:dim], data[r*dim:(r+1)*dim])
//
//go:noescape
func squaredL2GatherNEON(q, data []float32, dim int, rows []uint32, out []float32)

// dotUint8NEON returns, modulo 2³²,
//
//	for i := range a { s += uint32(a[i]) * uint32(b[i]) }
//
// using UMULL/UADALP (baseline ASIMD).
//
//go:noescape
func dotUint8NEON(a, b []uint8) uint32

// dotUint8DotProd is dotUint8NEON using UDOT; it needs useDotProd.
//
//go:noescape
func dotUint8DotProd(a, b []uint8) uint32

// squaredL2Uint8NEON returns, modulo 2³²,
//
//	for i := range a { d := int32(a[i]) - int32(b[i]); s += uint32(d * d) }
//
// using UABD/UMULL/UADALP (baseline ASIMD).
//
//go:noescape
func squaredL2Uint8NEON(a, b []uint8) uint32

// squaredL2Uint8DotProd is squaredL2Uint8NEON using UDOT; it needs
// useDotProd.
//
//go:noescape
func squaredL2Uint8DotProd(a, b []uint8) uint32

// dotInt8NEON returns, modulo 2³²,
//
//	for i := range a { s += int32(a[i]) * int32(b[i]) }
//
// using SMULL/SADALP (baseline ASIMD).
//
//go:noescape
func dotInt8NEON(a, b []int8) int32

// dotInt8DotProd is dotInt8NEON using SDOT; it needs useDotProd.
//
//go:noescape
func dotInt8DotProd(a, b []int8) int32

// squaredL2Int8NEON returns, modulo 2³²,
//
//	for i := range a { d := int32(a[i]) - int32(b[i]); s += uint32(d * d) }
//
// using SABD/UMULL/UADALP (baseline ASIMD).
//
//go:noescape
func squaredL2Int8NEON(a, b []int8) uint32

// squaredL2Int8DotProd is squaredL2Int8NEON using UDOT; it needs
// useDotProd.
//
//go:noescape
func squaredL2Int8DotProd(a, b []int8) uint32

// neonImpl is the NEON implementation, with the dot-product variants of the
// 8-bit kernels where the CPU has them. The PQ lookup kernels stay generic
// (nil here, filled in by fill): they are table gathers, which NEON has no
// instruction for (TBL indexes at most 64 bytes, a PQ table row is 1 KiB).
func neonImpl() impl {
	im := impl{
		name:            "neon",
		squaredL2:       squaredL2NEON,
		dot:             dotNEON,
		squaredL2Batch:  squaredL2BatchNEON,
		dotBatch:        dotBatchNEON,
		squaredL2Gather: squaredL2GatherNEON,
		dotGather:       dotGatherNEON,
		dotUint8:        dotUint8NEON,
		squaredL2Uint8:  squaredL2Uint8NEON,
		dotInt8:         dotInt8NEON,
		squaredL2Int8:   squaredL2Int8NEON,
	}
	if useDotProd {
		im.dotUint8 = dotUint8DotProd
		im.squaredL2Uint8 = squaredL2Uint8DotProd
		im.dotInt8 = dotInt8DotProd
		im.squaredL2Int8 = squaredL2Int8DotProd
	}
	return im
}

func archImplementations() []impl {
	if !useNEON {
		return nil
	}
	return []impl{neonImpl()}
}

func implementation() string {
	if useNEON {
		return "neon"
	}
	return "generic"
}

func squaredL2(a, b []float32) float32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	if useNEON {
		return squaredL2NEON(a, b)
	}
	return squaredL2Generic(a, b)
}

func dot(a, b []float32) float32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	if useNEON {
		return dotNEON(a, b)
	}
	return dotGeneric(a, b)
}

func squaredL2Batch(q, data []float32, dim int, out []float32) {
	if raceEnabled && useNEON {
		raceRead(q)
		raceRead(data[:len(out)*dim])
		raceWrite(out)
	}
	if useNEON {
		squaredL2BatchNEON(q, data, dim, out)
		return
	}
	squaredL2BatchGeneric(q, data, dim, out)
}

func dotBatch(q, data []float32, dim int, out []float32) {
	if raceEnabled && useNEON {
		raceRead(q)
		raceRead(data[:len(out)*dim])
		raceWrite(out)
	}
	if useNEON {
		dotBatchNEON(q, data, dim, out)
		return
	}
	dotBatchGeneric(q, data, dim, out)
}

func squaredL2Gather(q, data []float32, dim int, rows []uint32, out []float32) {
	if raceEnabled && useNEON {
		raceRead(q)
		raceRead(rows)
		for _, r := range rows {
			raceRead(data[int(r)*dim:][:dim])
		}
		raceWrite(out)
	}
	if useNEON {
		squaredL2GatherNEON(q, data, dim, rows, out)
		return
	}
	squaredL2GatherGeneric(q, data, dim, rows, out)
}

func dotGather(q, data []float32, dim int, rows []uint32, out []float32) {
	if raceEnabled && useNEON {
		raceRead(q)
		raceRead(rows)
		for _, r := range rows {
			raceRead(data[int(r)*dim:][:dim])
		}
		raceWrite(out)
	}
	if useNEON {
		dotGatherNEON(q, data, dim, rows, out)
		return
	}
	dotGatherGeneric(q, data, dim, rows, out)
}

func dotUint8(a, b []uint8) uint32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useDotProd:
		return dotUint8DotProd(a, b)
	case useNEON:
		return dotUint8NEON(a, b)
	}
	return dotUint8Generic(a, b)
}

func squaredL2Uint8(a, b []uint8) uint32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useDotProd:
		return squaredL2Uint8DotProd(a, b)
	case useNEON:
		return squaredL2Uint8NEON(a, b)
	}
	return squaredL2Uint8Generic(a, b)
}

func dotInt8(a, b []int8) int32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useDotProd:
		return dotInt8DotProd(a, b)
	case useNEON:
		return dotInt8NEON(a, b)
	}
	return dotInt8Generic(a, b)
}

func squaredL2Int8(a, b []int8) uint32 {
	if raceEnabled && useNEON {
		raceRead(a)
		raceRead(b[:len(a)])
	}
	switch {
	case useDotProd:
		return squaredL2Int8DotProd(a, b)
	case useNEON:
		return squaredL2Int8NEON(a, b)
	}
	return squaredL2Int8Generic(a, b)
}

func pqLookupSum(table []float32, code []uint8) float32 {
	return pqLookupSumGeneric(table, code)
}

func pqLookupSumBatch(table []float32, codes []uint8, m int, out []float32) {
	pqLookupSumBatchGeneric(table, codes, m, out)
}
