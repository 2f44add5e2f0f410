//go:build gc && !purego

#include "textflag.h"

// func fastScanNEON(codes, lut *byte, nPairs, nBlocks int, out *uint16)
//
// Per subquantizer pair: TBL looks up 16 codes in a 16-entry table held in
// one register (the NEON counterpart of VPSHUFB), four lookups per pair
// (codes 0..15 and 16..31 × subquantizers 2p and 2p+1), widened into four
// uint16 accumulators V16..V19 = codes 0..7, 8..15, 16..23, 24..31 with
// UADDW/UADDW2.
TEXT ·fastScanNEON(SB), NOSPLIT, $0-40
	MOVD codes+0(FP), R0
	MOVD lut+8(FP), R1
	MOVD nPairs+16(FP), R2
	MOVD nBlocks+24(FP), R3
	MOVD out+32(FP), R4
	VMOVI $15, V31.B16

block:
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	MOVD R1, R5
	MOVD R2, R6

pair:
	VLD1.P  32(R0), [V0.B16, V1.B16]
	VLD1.P  32(R5), [V2.B16, V3.B16]
	VUSHR   $4, V0.B16, V4.B16
	VAND    V31.B16, V0.B16, V0.B16
	VUSHR   $4, V1.B16, V5.B16
	VAND    V31.B16, V1.B16, V1.B16
	VTBL    V0.B16, [V2.B16], V6.B16
	VTBL    V4.B16, [V2.B16], V7.B16
	VTBL    V1.B16, [V3.B16], V8.B16
	VTBL    V5.B16, [V3.B16], V9.B16
	VUADDW  V6.B8, V16.H8, V16.H8
	VUADDW2 V6.B16, V17.H8, V17.H8
	VUADDW  V8.B8, V16.H8, V16.H8
	VUADDW2 V8.B16, V17.H8, V17.H8
	VUADDW  V7.B8, V18.H8, V18.H8
	VUADDW2 V7.B16, V19.H8, V19.H8
	VUADDW  V9.B8, V18.H8, V18.H8
	VUADDW2 V9.B16, V19.H8, V19.H8
	SUBS    $1, R6, R6
	BNE     pair

	VST1.P [V16.H8, V17.H8, V18.H8, V19.H8], 64(R4)
	SUBS   $1, R3, R3
	BNE    block
	RET
