//go:build gc && !purego

package pq

import "runtime"

// fastScanNEON is fastScanGeneric with TBL lookups; NEON is part of the
// arm64 baseline, so there is no feature check. nPairs ≥ 1, nBlocks ≥ 1.
//
//go:noescape
func fastScanNEON(codes, lut *byte, nPairs, nBlocks int, out *uint16)

func fastScanNEONGo(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	if nBlocks == 0 {
		return
	}
	checkFastScan(codes, lut, nPairs, nBlocks, out)
	if raceEnabled {
		raceFastScan(codes, lut, nPairs, nBlocks, out)
	}
	fastScanNEON(&codes[0], &lut[0], nPairs, nBlocks, &out[0])
	runtime.KeepAlive(codes)
}

func fastScan(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	fastScanNEONGo(codes, lut, nPairs, nBlocks, out)
}

func fastScanImplementation() string { return "neon" }

func fastScanImpls() []fastScanImpl {
	return []fastScanImpl{{"generic", fastScanGeneric}, {"neon", fastScanNEONGo}}
}
