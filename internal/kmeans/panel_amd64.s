//go:build gc && !purego

#include "textflag.h"

// func panelArgminAVX512(x *float32, dim int, panels *float32, npanels int, norms *float32, base int32, bestV *float32, bestI *int32)
//
// Scores 4 points (rows of x, stride dim) against npanels panels of 32
// centroids stored transposed (panel p, row d: coordinate d of centroids
// 32p..32p+31) and keeps, per point and per lane, the lowest
// v = ‖c‖² − 2·x·c seen so far and its centroid index: bestV/bestI are
// 4×32 arrays updated in place. Each step of the inner loop loads one panel
// row (2 zmm) and broadcasts one coordinate of each point: 6 loads for 8
// FMAs, so the FMA units, not the loads, set the pace — a matrix-multiply
// micro-kernel instead of one dot product per (point, centroid) pair.
TEXT ·panelArgminAVX512(SB), NOSPLIT, $0-64
	MOVQ x+0(FP), R10
	MOVQ dim+8(FP), CX
	MOVQ panels+16(FP), SI
	MOVQ npanels+24(FP), BX
	MOVQ norms+32(FP), DX
	MOVL base+40(FP), AX
	MOVQ bestV+48(FP), DI
	MOVQ bestI+56(FP), R9

	// Row pointers of the 4 points.
	LEAQ (R10)(CX*4), R11
	LEAQ (R11)(CX*4), R12
	LEAQ (R12)(CX*4), R13

	// Z14 = -2, Z15/Z16 = lane indices base+0..15 / base+16..31, Z17 = 32.
	MOVL         $0xc0000000, R8
	VPBROADCASTD R8, Z14
	VPBROADCASTD AX, Z15
	MOVQ         $laneIdx<>(SB), R8
	VPADDD       (R8), Z15, Z15
	MOVL         $16, R8
	VPBROADCASTD R8, Z17
	VPADDD       Z17, Z15, Z16
	MOVL         $32, R8
	VPBROADCASTD R8, Z17

panel:
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	XORQ   R8, R8

row:
	VMOVUPS      (SI), Z8
	VMOVUPS      64(SI), Z9
	VBROADCASTSS (R10)(R8*4), Z10
	VBROADCASTSS (R11)(R8*4), Z11
	VBROADCASTSS (R12)(R8*4), Z12
	VBROADCASTSS (R13)(R8*4), Z13
	VFMADD231PS  Z8, Z10, Z0
	VFMADD231PS  Z9, Z10, Z1
	VFMADD231PS  Z8, Z11, Z2
	VFMADD231PS  Z9, Z11, Z3
	VFMADD231PS  Z8, Z12, Z4
	VFMADD231PS  Z9, Z12, Z5
	VFMADD231PS  Z8, Z13, Z6
	VFMADD231PS  Z9, Z13, Z7
	ADDQ         $128, SI
	INCQ         R8
	CMPQ         R8, CX
	JLT          row

	// v = ‖c‖² − 2·dot
	VMOVUPS     (DX), Z8
	VMOVUPS     64(DX), Z9
	VFMADD213PS Z8, Z14, Z0
	VFMADD213PS Z9, Z14, Z1
	VFMADD213PS Z8, Z14, Z2
	VFMADD213PS Z9, Z14, Z3
	VFMADD213PS Z8, Z14, Z4
	VFMADD213PS Z9, Z14, Z5
	VFMADD213PS Z8, Z14, Z6
	VFMADD213PS Z9, Z14, Z7

	// Keep the lanes that improve (strictly: ties keep the lower index).
	VMOVUPS   (DI), Z8
	VCMPPS    $1, Z8, Z0, K1
	VMOVUPS   Z0, K1, (DI)
	VMOVDQU32 Z15, K1, (R9)
	VMOVUPS   64(DI), Z8
	VCMPPS    $1, Z8, Z1, K1
	VMOVUPS   Z1, K1, 64(DI)
	VMOVDQU32 Z16, K1, 64(R9)
	VMOVUPS   128(DI), Z8
	VCMPPS    $1, Z8, Z2, K1
	VMOVUPS   Z2, K1, 128(DI)
	VMOVDQU32 Z15, K1, 128(R9)
	VMOVUPS   192(DI), Z8
	VCMPPS    $1, Z8, Z3, K1
	VMOVUPS   Z3, K1, 192(DI)
	VMOVDQU32 Z16, K1, 192(R9)
	VMOVUPS   256(DI), Z8
	VCMPPS    $1, Z8, Z4, K1
	VMOVUPS   Z4, K1, 256(DI)
	VMOVDQU32 Z15, K1, 256(R9)
	VMOVUPS   320(DI), Z8
	VCMPPS    $1, Z8, Z5, K1
	VMOVUPS   Z5, K1, 320(DI)
	VMOVDQU32 Z16, K1, 320(R9)
	VMOVUPS   384(DI), Z8
	VCMPPS    $1, Z8, Z6, K1
	VMOVUPS   Z6, K1, 384(DI)
	VMOVDQU32 Z15, K1, 384(R9)
	VMOVUPS   448(DI), Z8
	VCMPPS    $1, Z8, Z7, K1
	VMOVUPS   Z7, K1, 448(DI)
	VMOVDQU32 Z16, K1, 448(R9)

	VPADDD Z17, Z15, Z15
	VPADDD Z17, Z16, Z16
	ADDQ   $128, DX
	DECQ   BX
	JNZ    panel
	VZEROUPPER
	RET

DATA laneIdx<>+0(SB)/4, $0
DATA laneIdx<>+4(SB)/4, $1
DATA laneIdx<>+8(SB)/4, $2
DATA laneIdx<>+12(SB)/4, $3
DATA laneIdx<>+16(SB)/4, $4
DATA laneIdx<>+20(SB)/4, $5
DATA laneIdx<>+24(SB)/4, $6
DATA laneIdx<>+28(SB)/4, $7
DATA laneIdx<>+32(SB)/4, $8
DATA laneIdx<>+36(SB)/4, $9
DATA laneIdx<>+40(SB)/4, $10
DATA laneIdx<>+44(SB)/4, $11
DATA laneIdx<>+48(SB)/4, $12
DATA laneIdx<>+52(SB)/4, $13
DATA laneIdx<>+56(SB)/4, $14
DATA laneIdx<>+60(SB)/4, $15
GLOBL laneIdx<>(SB), RODATA|NOPTR, $64
