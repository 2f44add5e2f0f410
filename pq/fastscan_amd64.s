//go:build gc && !purego

#include "textflag.h"

// func fastScanAVX2(codes, lut *byte, nPairs, nBlocks int, out *uint16)
//
// Per block of 32 codes, four accumulators of 16 uint16 words:
// Y0/Y1 the even/odd bytes of the lookups of codes 0..15, Y2/Y3 those of
// codes 16..31. The low 128-bit lane accumulates subquantizers 2p, the
// high lane 2p+1; the lanes are added at the end of the block, then the
// even and odd words interleaved back into code order.
TEXT ·fastScanAVX2(SB), NOSPLIT, $0-40
	MOVQ codes+0(FP), SI
	MOVQ lut+8(FP), DX
	MOVQ nPairs+16(FP), CX
	MOVQ nBlocks+24(FP), BX
	MOVQ out+32(FP), DI
	MOVL $0x0f0f0f0f, AX
	MOVQ AX, X15
	VPBROADCASTD X15, Y15 // nibble mask
	MOVL $0x00ff00ff, AX
	MOVQ AX, X14
	VPBROADCASTD X14, Y14 // low byte of each word

avx2_block:
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	MOVQ  DX, R8
	MOVQ  CX, R9

avx2_pair:
	VMOVDQU  (SI), Y4
	VMOVDQU  (R8), Y5
	VPSRLW   $4, Y4, Y6
	VPAND    Y15, Y4, Y4  // low nibbles: codes 0..15
	VPAND    Y15, Y6, Y6  // high nibbles: codes 16..31
	VPSHUFB  Y4, Y5, Y7
	VPSHUFB  Y6, Y5, Y8
	VPSRLW   $8, Y7, Y9
	VPAND    Y14, Y7, Y7
	VPADDUSW Y7, Y0, Y0
	VPADDUSW Y9, Y1, Y1
	VPSRLW   $8, Y8, Y10
	VPAND    Y14, Y8, Y8
	VPADDUSW Y8, Y2, Y2
	VPADDUSW Y10, Y3, Y3
	ADDQ     $32, SI
	ADDQ     $32, R8
	DECQ     R9
	JNZ      avx2_pair

	VEXTRACTI128 $1, Y0, X4
	VPADDUSW     X4, X0, X0
	VEXTRACTI128 $1, Y1, X5
	VPADDUSW     X5, X1, X1
	VEXTRACTI128 $1, Y2, X6
	VPADDUSW     X6, X2, X2
	VEXTRACTI128 $1, Y3, X7
	VPADDUSW     X7, X3, X3
	VPUNPCKLWD   X1, X0, X4
	VPUNPCKHWD   X1, X0, X5
	VPUNPCKLWD   X3, X2, X6
	VPUNPCKHWD   X3, X2, X7
	VMOVDQU      X4, (DI)
	VMOVDQU      X5, 16(DI)
	VMOVDQU      X6, 32(DI)
	VMOVDQU      X7, 48(DI)
	ADDQ         $64, DI
	DECQ         BX
	JNZ          avx2_block
	VZEROUPPER
	RET

// func fastScanAVX512(codes, lut *byte, nPairs, nBlocks int, out *uint16)
//
// As fastScanAVX2 with 512-bit registers: the four 128-bit lanes hold
// subquantizers 2p, 2p+1, 2p+2, 2p+3, so each step consumes two pairs
// (64 bytes of codes and of table). nPairs is even.
TEXT ·fastScanAVX512(SB), NOSPLIT, $0-40
	MOVQ codes+0(FP), SI
	MOVQ lut+8(FP), DX
	MOVQ nPairs+16(FP), CX
	SHRQ $1, CX
	MOVQ nBlocks+24(FP), BX
	MOVQ out+32(FP), DI
	MOVL $0x0f0f0f0f, AX
	VPBROADCASTD AX, Z15
	MOVL $0x00ff00ff, AX
	VPBROADCASTD AX, Z14

avx512_block:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ   DX, R8
	MOVQ   CX, R9

avx512_pair:
	VMOVDQU64 (SI), Z4
	VMOVDQU64 (R8), Z5
	VPSRLW    $4, Z4, Z6
	VPANDD    Z15, Z4, Z4
	VPANDD    Z15, Z6, Z6
	VPSHUFB   Z4, Z5, Z7
	VPSHUFB   Z6, Z5, Z8
	VPSRLW    $8, Z7, Z9
	VPANDD    Z14, Z7, Z7
	VPADDUSW  Z7, Z0, Z0
	VPADDUSW  Z9, Z1, Z1
	VPSRLW    $8, Z8, Z10
	VPANDD    Z14, Z8, Z8
	VPADDUSW  Z8, Z2, Z2
	VPADDUSW  Z10, Z3, Z3
	ADDQ      $64, SI
	ADDQ      $64, R8
	DECQ      R9
	JNZ       avx512_pair

	VEXTRACTI64X4 $1, Z0, Y4
	VPADDUSW      Y4, Y0, Y0
	VEXTRACTI64X4 $1, Z1, Y5
	VPADDUSW      Y5, Y1, Y1
	VEXTRACTI64X4 $1, Z2, Y6
	VPADDUSW      Y6, Y2, Y2
	VEXTRACTI64X4 $1, Z3, Y7
	VPADDUSW      Y7, Y3, Y3
	VEXTRACTI128  $1, Y0, X4
	VPADDUSW      X4, X0, X0
	VEXTRACTI128  $1, Y1, X5
	VPADDUSW      X5, X1, X1
	VEXTRACTI128  $1, Y2, X6
	VPADDUSW      X6, X2, X2
	VEXTRACTI128  $1, Y3, X7
	VPADDUSW      X7, X3, X3
	VPUNPCKLWD    X1, X0, X4
	VPUNPCKHWD    X1, X0, X5
	VPUNPCKLWD    X3, X2, X6
	VPUNPCKHWD    X3, X2, X7
	VMOVDQU       X4, (DI)
	VMOVDQU       X5, 16(DI)
	VMOVDQU       X6, 32(DI)
	VMOVDQU       X7, 48(DI)
	ADDQ          $64, DI
	DECQ          BX
	JNZ           avx512_block
	VZEROUPPER
	RET
