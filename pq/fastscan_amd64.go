//go:build gc && !purego

package pq

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// Feature bools are set once; GODEBUG=cpu.avx2=off turns off both paths
// and cpu.avx512f=off the AVX-512 one.
var (
	useFastScanAVX2   = cpu.X86.HasAVX2
	useFastScanAVX512 = useFastScanAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW
)

// fastScanAVX2 is fastScanGeneric with VPSHUFB on 256-bit registers: one
// subquantizer pair (two 16-entry tables, one per 128-bit lane) per step.
// nPairs ≥ 1.
//
//go:noescape
func fastScanAVX2(codes, lut *byte, nPairs, nBlocks int, out *uint16)

// fastScanAVX512 does two subquantizer pairs per step on 512-bit
// registers. nPairs must be even and ≥ 2.
//
//go:noescape
func fastScanAVX512(codes, lut *byte, nPairs, nBlocks int, out *uint16)

func fastScanAVX2Go(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	if nBlocks == 0 {
		return
	}
	checkFastScan(codes, lut, nPairs, nBlocks, out)
	if raceEnabled {
		raceFastScan(codes, lut, nPairs, nBlocks, out)
	}
	fastScanAVX2(&codes[0], &lut[0], nPairs, nBlocks, &out[0])
	runtime.KeepAlive(codes)
}

func fastScanAVX512Go(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	if nBlocks == 0 {
		return
	}
	checkFastScan(codes, lut, nPairs, nBlocks, out)
	if raceEnabled {
		raceFastScan(codes, lut, nPairs, nBlocks, out)
	}
	if nPairs%2 != 0 {
		fastScanAVX2(&codes[0], &lut[0], nPairs, nBlocks, &out[0])
		return
	}
	fastScanAVX512(&codes[0], &lut[0], nPairs, nBlocks, &out[0])
}

func fastScan(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	switch {
	case useFastScanAVX512:
		fastScanAVX512Go(codes, lut, nPairs, nBlocks, out)
	case useFastScanAVX2:
		fastScanAVX2Go(codes, lut, nPairs, nBlocks, out)
	default:
		fastScanGeneric(codes, lut, nPairs, nBlocks, out)
	}
}

func fastScanImplementation() string {
	switch {
	case useFastScanAVX512:
		return "avx512"
	case useFastScanAVX2:
		return "avx2"
	}
	return "generic"
}

func fastScanImpls() []fastScanImpl {
	impls := []fastScanImpl{{"generic", fastScanGeneric}}
	if useFastScanAVX2 {
		impls = append(impls, fastScanImpl{"avx2", fastScanAVX2Go})
	}
	if useFastScanAVX512 {
		impls = append(impls, fastScanImpl{"avx512", fastScanAVX512Go})
	}
	return impls
}
