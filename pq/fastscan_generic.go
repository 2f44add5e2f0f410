package pq

// fastScanGeneric is the reference fast-scan kernel. For each of the
// nBlocks blocks of 32 codes it sets out[32·b+v] to the sum over the
// 2·nPairs subquantizers of the quantized table entry of code v:
//
//	for p := range nPairs {
//		c, l := block[32p:32p+32], lut[32p:32p+32]
//		for j := range 16 {
//			out[j]    += l[c[j]&15] + l[16+c[16+j]&15]
//			out[j+16] += l[c[j]>>4] + l[16+c[16+j]>>4]
//		}
//	}
//
// Layout of a block (see packBlock): for subquantizer pair p, byte j < 16
// holds subquantizer 2p of codes j (low nibble) and j+16 (high nibble),
// byte 16+j the same for subquantizer 2p+1; lut holds, per pair, the 16
// entries of subquantizer 2p then the 16 of 2p+1. The sums fit in uint16
// because nPairs ≤ 128 (255·256 < 65536), so the saturating adds of the
// assembly never saturate and every implementation agrees exactly.
func fastScanGeneric(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	bs := nPairs * 32
	lut = lut[:bs]
	for b := range nBlocks {
		blk := codes[b*bs : (b+1)*bs]
		var acc [32]uint16
		for p := 0; p < bs; p += 32 {
			c := blk[p : p+32]
			l := lut[p : p+32]
			lo, hi := l[:16], l[16:32]
			for j := range 16 {
				c0, c1 := c[j], c[16+j]
				acc[j] += uint16(lo[c0&15]) + uint16(hi[c1&15])
				acc[j+16] += uint16(lo[c0>>4]) + uint16(hi[c1>>4])
			}
		}
		copy(out[b*32:(b+1)*32], acc[:])
	}
}
