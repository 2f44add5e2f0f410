//go:build gc && !purego

package distance

import "golang.org/x/sys/cpu"

// useF16C gates the AVX2 half-precision kernels: every AVX2 CPU has F16C,
// but it is a separate CPUID bit. The AVX-512 kernels convert with the
// AVX-512F form of VCVTPH2PS.
var useF16C = useAVX2 && cpu.X86.HasF16C

func squaredL2Float16(q []float32, x []uint16) float32 {
	if raceEnabled {
		raceRead(q)
		raceRead(x[:len(q)])
	}
	switch {
	case useAVX512:
		return squaredL2Float16AVX512(q, x)
	case useF16C:
		return squaredL2Float16AVX2(q, x)
	}
	return squaredL2Float16Generic(q, x)
}

func dotFloat16(q []float32, x []uint16) float32 {
	if raceEnabled {
		raceRead(q)
		raceRead(x[:len(q)])
	}
	switch {
	case useAVX512:
		return dotFloat16AVX512(q, x)
	case useF16C:
		return dotFloat16AVX2(q, x)
	}
	return dotFloat16Generic(q, x)
}
