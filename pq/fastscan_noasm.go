//go:build (!amd64 && !arm64) || !gc || purego

package pq

func fastScan(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	fastScanGeneric(codes, lut, nPairs, nBlocks, out)
}

func fastScanImplementation() string { return "generic" }

func fastScanImpls() []fastScanImpl {
	return []fastScanImpl{{"generic", fastScanGeneric}}
}
