//go:build gc && !purego

#include "textflag.h"

// NEON kernels for arm64, written by hand. The Go assembler lacks most
// vector arithmetic (FADD/FSUB/FADDP, the widening integer multiplies,
// UABD/SABD, UADALP/SADALP, UDOT/SDOT), so those are emitted as WORD with
// the mnemonic in a comment. The encodings were produced with
// llvm-mc -triple=aarch64 -mattr=+dotprod -show-encoding and checked by
// disassembling the built test binary (llvm-objdump, go tool objdump).
//
// Every body below takes its operands in fixed registers:
//	R0  pointer to the first vector, advanced past it
//	R1  pointer to the second vector, advanced past it
//	R2  length in elements
// and clobbers R2-R5, R7, V0-V7 and V16-V31. Advancing R1 past the row
// lets the batch kernels walk contiguous rows without recomputing
// addresses. The bodies define labels, so a TEXT block may expand at most
// one of them (labels are scoped to their TEXT block).
//
// Tails never read past the length: after the main loop the remaining
// count (< the loop stride) is split into its binary digits, and each digit
// is one step of that many elements. Steps of 8 and 4 bytes load with
// FMOVD/FMOVS, which zero the rest of the register, so the full-width
// arithmetic on them adds zeros; the integer kernels finish the last 0–3
// bytes in scalar registers.

// F32_DOT_BODY leaves Σ a[i]*b[i] in F0. Eight accumulators of four lanes
// keep eight FMLA chains in flight: FMLA latency is 3–4 cycles on current
// cores with two to four FMA pipes, so fewer chains would stall on the
// accumulator dependency.
#define F32_DOT_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	VEOR	V4.B16, V4.B16, V4.B16 \
	VEOR	V5.B16, V5.B16, V5.B16 \
	VEOR	V6.B16, V6.B16, V6.B16 \
	VEOR	V7.B16, V7.B16, V7.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	64(R0), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P	64(R0), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VLD1.P	64(R1), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VLD1.P	64(R1), [V28.S4, V29.S4, V30.S4, V31.S4] \
	VFMLA	V24.S4, V16.S4, V0.S4 \
	VFMLA	V25.S4, V17.S4, V1.S4 \
	VFMLA	V26.S4, V18.S4, V2.S4 \
	VFMLA	V27.S4, V19.S4, V3.S4 \
	VFMLA	V28.S4, V20.S4, V4.S4 \
	VFMLA	V29.S4, V21.S4, V5.S4 \
	VFMLA	V30.S4, V22.S4, V6.S4 \
	VFMLA	V31.S4, V23.S4, V7.S4 \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	64(R0), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P	64(R1), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VFMLA	V24.S4, V16.S4, V0.S4 \
	VFMLA	V25.S4, V17.S4, V1.S4 \
	VFMLA	V26.S4, V18.S4, V2.S4 \
	VFMLA	V27.S4, V19.S4, V3.S4 \
tail8: \
	TBZ	$3, R2, tail4 \
	VLD1.P	32(R0), [V16.S4, V17.S4] \
	VLD1.P	32(R1), [V24.S4, V25.S4] \
	VFMLA	V24.S4, V16.S4, V4.S4 \
	VFMLA	V25.S4, V17.S4, V5.S4 \
tail4: \
	TBZ	$2, R2, tail2 \
	VLD1.P	16(R0), [V16.S4] \
	VLD1.P	16(R1), [V24.S4] \
	VFMLA	V24.S4, V16.S4, V6.S4 \
tail2: \
	TBZ	$1, R2, tail1 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F24 \
	VFMLA	V24.S4, V16.S4, V7.S4 \
tail1: \
	TBZ	$0, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F24 \
	VFMLA	V24.S4, V16.S4, V0.S4 \
reduce: \
	F32_REDUCE

// F32_L2_BODY leaves Σ (a[i]-b[i])² in F0; the loop shape is that of
// F32_DOT_BODY with an FSUB before each FMLA.
#define F32_L2_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	VEOR	V4.B16, V4.B16, V4.B16 \
	VEOR	V5.B16, V5.B16, V5.B16 \
	VEOR	V6.B16, V6.B16, V6.B16 \
	VEOR	V7.B16, V7.B16, V7.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	64(R0), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P	64(R0), [V20.S4, V21.S4, V22.S4, V23.S4] \
	VLD1.P	64(R1), [V24.S4, V25.S4, V26.S4, V27.S4] \
	VLD1.P	64(R1), [V28.S4, V29.S4, V30.S4, V31.S4] \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	WORD $0x4EB9D631 /* fsub v17.4s, v17.4s, v25.4s */ \
	WORD $0x4EBAD652 /* fsub v18.4s, v18.4s, v26.4s */ \
	WORD $0x4EBBD673 /* fsub v19.4s, v19.4s, v27.4s */ \
	WORD $0x4EBCD694 /* fsub v20.4s, v20.4s, v28.4s */ \
	WORD $0x4EBDD6B5 /* fsub v21.4s, v21.4s, v29.4s */ \
	WORD $0x4EBED6D6 /* fsub v22.4s, v22.4s, v30.4s */ \
	WORD $0x4EBFD6F7 /* fsub v23.4s, v23.4s, v31.4s */ \
	VFMLA	V16.S4, V16.S4, V0.S4 \
	VFMLA	V17.S4, V17.S4, V1.S4 \
	VFMLA	V18.S4, V18.S4, V2.S4 \
	VFMLA	V19.S4, V19.S4, V3.S4 \
	VFMLA	V20.S4, V20.S4, V4.S4 \
	VFMLA	V21.S4, V21.S4, V5.S4 \
	VFMLA	V22.S4, V22.S4, V6.S4 \
	VFMLA	V23.S4, V23.S4, V7.S4 \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	64(R0), [V16.S4, V17.S4, V18.S4, V19.S4] \
	VLD1.P	64(R1), [V24.S4, V25.S4, V26.S4, V27.S4] \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	WORD $0x4EB9D631 /* fsub v17.4s, v17.4s, v25.4s */ \
	WORD $0x4EBAD652 /* fsub v18.4s, v18.4s, v26.4s */ \
	WORD $0x4EBBD673 /* fsub v19.4s, v19.4s, v27.4s */ \
	VFMLA	V16.S4, V16.S4, V0.S4 \
	VFMLA	V17.S4, V17.S4, V1.S4 \
	VFMLA	V18.S4, V18.S4, V2.S4 \
	VFMLA	V19.S4, V19.S4, V3.S4 \
tail8: \
	TBZ	$3, R2, tail4 \
	VLD1.P	32(R0), [V16.S4, V17.S4] \
	VLD1.P	32(R1), [V24.S4, V25.S4] \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	WORD $0x4EB9D631 /* fsub v17.4s, v17.4s, v25.4s */ \
	VFMLA	V16.S4, V16.S4, V4.S4 \
	VFMLA	V17.S4, V17.S4, V5.S4 \
tail4: \
	TBZ	$2, R2, tail2 \
	VLD1.P	16(R0), [V16.S4] \
	VLD1.P	16(R1), [V24.S4] \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	VFMLA	V16.S4, V16.S4, V6.S4 \
tail2: \
	TBZ	$1, R2, tail1 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F24 \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	VFMLA	V16.S4, V16.S4, V7.S4 \
tail1: \
	TBZ	$0, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F24 \
	WORD $0x4EB8D610 /* fsub v16.4s, v16.4s, v24.4s */ \
	VFMLA	V16.S4, V16.S4, V0.S4 \
reduce: \
	F32_REDUCE

// F32_REDUCE adds the eight accumulators V0-V7 pairwise into F0.
#define F32_REDUCE \
	WORD $0x4E21D400 /* fadd v0.4s, v0.4s, v1.4s */ \
	WORD $0x4E23D442 /* fadd v2.4s, v2.4s, v3.4s */ \
	WORD $0x4E25D484 /* fadd v4.4s, v4.4s, v5.4s */ \
	WORD $0x4E27D4C6 /* fadd v6.4s, v6.4s, v7.4s */ \
	WORD $0x4E22D400 /* fadd v0.4s, v0.4s, v2.4s */ \
	WORD $0x4E26D484 /* fadd v4.4s, v4.4s, v6.4s */ \
	WORD $0x4E24D400 /* fadd v0.4s, v0.4s, v4.4s */ \
	WORD $0x6E20D400 /* faddp v0.4s, v0.4s, v0.4s */ \
	WORD $0x7E30D800 /* faddp s0, v0.2s */

// func dotNEON(a, b []float32) float32
TEXT ·dotNEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	F32_DOT_BODY
	FMOVS	F0, ret+48(FP)
	RET

// func squaredL2NEON(a, b []float32) float32
TEXT ·squaredL2NEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	F32_L2_BODY
	FMOVS	F0, ret+48(FP)
	RET

// The batch kernels loop over rows in assembly rather than calling the
// one-to-one kernel from Go: at dim 128 a row is four iterations of the
// main loop, and a Go→assembly call per row (ABI wrapper, argument spill,
// slice header) would cost a sizeable fraction of that.

// func dotBatchNEON(q, data []float32, dim int, out []float32)
TEXT ·dotBatchNEON(SB), NOSPLIT, $0-80
	MOVD	q_base+0(FP), R10
	MOVD	data_base+24(FP), R1
	MOVD	dim+48(FP), R11
	MOVD	out_base+56(FP), R12
	MOVD	out_len+64(FP), R13
	CBZ	R13, done
row:
	MOVD	R10, R0
	MOVD	R11, R2
	F32_DOT_BODY
	FMOVS.P	F0, 4(R12)
	SUBS	$1, R13, R13
	BNE	row
done:
	RET

// func squaredL2BatchNEON(q, data []float32, dim int, out []float32)
TEXT ·squaredL2BatchNEON(SB), NOSPLIT, $0-80
	MOVD	q_base+0(FP), R10
	MOVD	data_base+24(FP), R1
	MOVD	dim+48(FP), R11
	MOVD	out_base+56(FP), R12
	MOVD	out_len+64(FP), R13
	CBZ	R13, done
row:
	MOVD	R10, R0
	MOVD	R11, R2
	F32_L2_BODY
	FMOVS.P	F0, 4(R12)
	SUBS	$1, R13, R13
	BNE	row
done:
	RET

// func dotGatherNEON(q, data []float32, dim int, rows []uint32, out []float32)
TEXT ·dotGatherNEON(SB), NOSPLIT, $0-104
	MOVD	q_base+0(FP), R10
	MOVD	data_base+24(FP), R14
	MOVD	dim+48(FP), R11
	MOVD	rows_base+56(FP), R15
	MOVD	rows_len+64(FP), R13
	MOVD	out_base+80(FP), R12
	LSL	$2, R11, R9 // row stride in bytes
	CBZ	R13, done
row:
	MOVWU.P	4(R15), R8
	MUL	R9, R8, R8
	ADD	R14, R8, R1
	MOVD	R10, R0
	MOVD	R11, R2
	F32_DOT_BODY
	FMOVS.P	F0, 4(R12)
	SUBS	$1, R13, R13
	BNE	row
done:
	RET

// func squaredL2GatherNEON(q, data []float32, dim int, rows []uint32, out []float32)
TEXT ·squaredL2GatherNEON(SB), NOSPLIT, $0-104
	MOVD	q_base+0(FP), R10
	MOVD	data_base+24(FP), R14
	MOVD	dim+48(FP), R11
	MOVD	rows_base+56(FP), R15
	MOVD	rows_len+64(FP), R13
	MOVD	out_base+80(FP), R12
	LSL	$2, R11, R9 // row stride in bytes
	CBZ	R13, done
row:
	MOVWU.P	4(R15), R8
	MUL	R9, R8, R8
	ADD	R14, R8, R1
	MOVD	R10, R0
	MOVD	R11, R2
	F32_L2_BODY
	FMOVS.P	F0, 4(R12)
	SUBS	$1, R13, R13
	BNE	row
done:
	RET

// Integer kernels. All sums are kept in 32-bit lanes and wrap modulo 2³²
// exactly as the generic kernels' uint32/int32 accumulators do, so results
// match bit for bit even past the documented overflow-free lengths.
//
// Without the dot-product extension a 16-byte step widens with
// UMULL/UMULL2 (8-bit × 8-bit → 16-bit; 255² = 65025 fits) and folds the
// 16-bit products pairwise into 32-bit lanes with UADALP. With it (ARMv8.2
// FEAT_DotProd, cpu.ARM64.HasASIMDDP) one UDOT/SDOT does the same work.
// Leftover bytes after the 4-byte step (at most 3) are summed in scalar
// registers into R7, which the bodies also return the total in.

// U8_DOT_BODY leaves Σ a[i]*b[i] (uint8, mod 2³²) in R7.
#define U8_DOT_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V18.B16, V19.B16] \
	WORD $0x2E32C214 /* umull v20.8h, v16.8b, v18.8b */ \
	WORD $0x6E32C215 /* umull2 v21.8h, v16.16b, v18.16b */ \
	WORD $0x2E33C236 /* umull v22.8h, v17.8b, v19.8b */ \
	WORD $0x6E33C237 /* umull2 v23.8h, v17.16b, v19.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
	WORD $0x6E606AC2 /* uadalp v2.4s, v22.8h */ \
	WORD $0x6E606AE3 /* uadalp v3.4s, v23.8h */ \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V18.B16] \
	WORD $0x2E32C214 /* umull v20.8h, v16.8b, v18.8b */ \
	WORD $0x6E32C215 /* umull2 v21.8h, v16.16b, v18.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F18 \
	WORD $0x2E32C214 /* umull v20.8h, v16.8b, v18.8b */ \
	WORD $0x6E606A82 /* uadalp v2.4s, v20.8h */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F18 \
	WORD $0x2E32C214 /* umull v20.8h, v16.8b, v18.8b */ \
	WORD $0x6E606A83 /* uadalp v3.4s, v20.8h */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVBU.P	1(R0), R4 \
	MOVBU.P	1(R1), R5 \
	MULW	R4, R5, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// U8_DOT_BODY_DP is U8_DOT_BODY with UDOT; four accumulators of 16 bytes.
#define U8_DOT_BODY_DP \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$6, R2, R3 \
	CBZ	R3, tail32 \
loop64: \
	VLD1.P	64(R0), [V16.B16, V17.B16, V18.B16, V19.B16] \
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16] \
	WORD $0x6E949600 /* udot v0.4s, v16.16b, v20.16b */ \
	WORD $0x6E959621 /* udot v1.4s, v17.16b, v21.16b */ \
	WORD $0x6E969642 /* udot v2.4s, v18.16b, v22.16b */ \
	WORD $0x6E979663 /* udot v3.4s, v19.16b, v23.16b */ \
	SUBS	$1, R3, R3 \
	BNE	loop64 \
tail32: \
	TBZ	$5, R2, tail16 \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V20.B16, V21.B16] \
	WORD $0x6E949600 /* udot v0.4s, v16.16b, v20.16b */ \
	WORD $0x6E959621 /* udot v1.4s, v17.16b, v21.16b */ \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V20.B16] \
	WORD $0x6E949602 /* udot v2.4s, v16.16b, v20.16b */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F20 \
	WORD $0x6E949603 /* udot v3.4s, v16.16b, v20.16b */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F20 \
	WORD $0x6E949600 /* udot v0.4s, v16.16b, v20.16b */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVBU.P	1(R0), R4 \
	MOVBU.P	1(R1), R5 \
	MULW	R4, R5, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// U8_L2_BODY leaves Σ (a[i]-b[i])² (uint8, mod 2³²) in R7: UABD gives
// |a[i]-b[i]| as a byte, which is then squared like U8_DOT_BODY's products.
#define U8_L2_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V18.B16, V19.B16] \
	WORD $0x6E327610 /* uabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x6E337631 /* uabd v17.16b, v17.16b, v19.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E30C215 /* umull2 v21.8h, v16.16b, v16.16b */ \
	WORD $0x2E31C236 /* umull v22.8h, v17.8b, v17.8b */ \
	WORD $0x6E31C237 /* umull2 v23.8h, v17.16b, v17.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
	WORD $0x6E606AC2 /* uadalp v2.4s, v22.8h */ \
	WORD $0x6E606AE3 /* uadalp v3.4s, v23.8h */ \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V18.B16] \
	WORD $0x6E327610 /* uabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E30C215 /* umull2 v21.8h, v16.16b, v16.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F18 \
	WORD $0x6E327610 /* uabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E606A82 /* uadalp v2.4s, v20.8h */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F18 \
	WORD $0x6E327610 /* uabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E606A83 /* uadalp v3.4s, v20.8h */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVBU.P	1(R0), R4 \
	MOVBU.P	1(R1), R5 \
	SUB	R5, R4, R4 \
	MULW	R4, R4, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// U8_L2_BODY_DP is U8_L2_BODY with UDOT(|d|, |d|).
#define U8_L2_BODY_DP \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$6, R2, R3 \
	CBZ	R3, tail32 \
loop64: \
	VLD1.P	64(R0), [V16.B16, V17.B16, V18.B16, V19.B16] \
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16] \
	WORD $0x6E347610 /* uabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E357631 /* uabd v17.16b, v17.16b, v21.16b */ \
	WORD $0x6E367652 /* uabd v18.16b, v18.16b, v22.16b */ \
	WORD $0x6E377673 /* uabd v19.16b, v19.16b, v23.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
	WORD $0x6E919621 /* udot v1.4s, v17.16b, v17.16b */ \
	WORD $0x6E929642 /* udot v2.4s, v18.16b, v18.16b */ \
	WORD $0x6E939663 /* udot v3.4s, v19.16b, v19.16b */ \
	SUBS	$1, R3, R3 \
	BNE	loop64 \
tail32: \
	TBZ	$5, R2, tail16 \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V20.B16, V21.B16] \
	WORD $0x6E347610 /* uabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E357631 /* uabd v17.16b, v17.16b, v21.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
	WORD $0x6E919621 /* udot v1.4s, v17.16b, v17.16b */ \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V20.B16] \
	WORD $0x6E347610 /* uabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909602 /* udot v2.4s, v16.16b, v16.16b */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F20 \
	WORD $0x6E347610 /* uabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909603 /* udot v3.4s, v16.16b, v16.16b */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F20 \
	WORD $0x6E347610 /* uabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVBU.P	1(R0), R4 \
	MOVBU.P	1(R1), R5 \
	SUB	R5, R4, R4 \
	MULW	R4, R4, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// I8_DOT_BODY leaves Σ a[i]*b[i] (int8, mod 2³²) in R7: U8_DOT_BODY with
// signed widening (SMULL/SADALP; (-128)² = 16384 fits an int16 lane).
#define I8_DOT_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V18.B16, V19.B16] \
	WORD $0x0E32C214 /* smull v20.8h, v16.8b, v18.8b */ \
	WORD $0x4E32C215 /* smull2 v21.8h, v16.16b, v18.16b */ \
	WORD $0x0E33C236 /* smull v22.8h, v17.8b, v19.8b */ \
	WORD $0x4E33C237 /* smull2 v23.8h, v17.16b, v19.16b */ \
	WORD $0x4E606A80 /* sadalp v0.4s, v20.8h */ \
	WORD $0x4E606AA1 /* sadalp v1.4s, v21.8h */ \
	WORD $0x4E606AC2 /* sadalp v2.4s, v22.8h */ \
	WORD $0x4E606AE3 /* sadalp v3.4s, v23.8h */ \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V18.B16] \
	WORD $0x0E32C214 /* smull v20.8h, v16.8b, v18.8b */ \
	WORD $0x4E32C215 /* smull2 v21.8h, v16.16b, v18.16b */ \
	WORD $0x4E606A80 /* sadalp v0.4s, v20.8h */ \
	WORD $0x4E606AA1 /* sadalp v1.4s, v21.8h */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F18 \
	WORD $0x0E32C214 /* smull v20.8h, v16.8b, v18.8b */ \
	WORD $0x4E606A82 /* sadalp v2.4s, v20.8h */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F18 \
	WORD $0x0E32C214 /* smull v20.8h, v16.8b, v18.8b */ \
	WORD $0x4E606A83 /* sadalp v3.4s, v20.8h */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVB.P	1(R0), R4 \
	MOVB.P	1(R1), R5 \
	MULW	R4, R5, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// I8_DOT_BODY_DP is I8_DOT_BODY with SDOT.
#define I8_DOT_BODY_DP \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$6, R2, R3 \
	CBZ	R3, tail32 \
loop64: \
	VLD1.P	64(R0), [V16.B16, V17.B16, V18.B16, V19.B16] \
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16] \
	WORD $0x4E949600 /* sdot v0.4s, v16.16b, v20.16b */ \
	WORD $0x4E959621 /* sdot v1.4s, v17.16b, v21.16b */ \
	WORD $0x4E969642 /* sdot v2.4s, v18.16b, v22.16b */ \
	WORD $0x4E979663 /* sdot v3.4s, v19.16b, v23.16b */ \
	SUBS	$1, R3, R3 \
	BNE	loop64 \
tail32: \
	TBZ	$5, R2, tail16 \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V20.B16, V21.B16] \
	WORD $0x4E949600 /* sdot v0.4s, v16.16b, v20.16b */ \
	WORD $0x4E959621 /* sdot v1.4s, v17.16b, v21.16b */ \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V20.B16] \
	WORD $0x4E949602 /* sdot v2.4s, v16.16b, v20.16b */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F20 \
	WORD $0x4E949603 /* sdot v3.4s, v16.16b, v20.16b */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F20 \
	WORD $0x4E949600 /* sdot v0.4s, v16.16b, v20.16b */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVB.P	1(R0), R4 \
	MOVB.P	1(R1), R5 \
	MULW	R4, R5, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// I8_L2_BODY leaves Σ (a[i]-b[i])² (int8, mod 2³²) in R7. SABD yields
// |a[i]-b[i]| ≤ 255 as an unsigned byte, so the squaring is U8_L2_BODY's.
#define I8_L2_BODY \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$5, R2, R3 \
	CBZ	R3, tail16 \
loop32: \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V18.B16, V19.B16] \
	WORD $0x4E327610 /* sabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x4E337631 /* sabd v17.16b, v17.16b, v19.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E30C215 /* umull2 v21.8h, v16.16b, v16.16b */ \
	WORD $0x2E31C236 /* umull v22.8h, v17.8b, v17.8b */ \
	WORD $0x6E31C237 /* umull2 v23.8h, v17.16b, v17.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
	WORD $0x6E606AC2 /* uadalp v2.4s, v22.8h */ \
	WORD $0x6E606AE3 /* uadalp v3.4s, v23.8h */ \
	SUBS	$1, R3, R3 \
	BNE	loop32 \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V18.B16] \
	WORD $0x4E327610 /* sabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E30C215 /* umull2 v21.8h, v16.16b, v16.16b */ \
	WORD $0x6E606A80 /* uadalp v0.4s, v20.8h */ \
	WORD $0x6E606AA1 /* uadalp v1.4s, v21.8h */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F18 \
	WORD $0x4E327610 /* sabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E606A82 /* uadalp v2.4s, v20.8h */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F18 \
	WORD $0x4E327610 /* sabd v16.16b, v16.16b, v18.16b */ \
	WORD $0x2E30C214 /* umull v20.8h, v16.8b, v16.8b */ \
	WORD $0x6E606A83 /* uadalp v3.4s, v20.8h */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVB.P	1(R0), R4 \
	MOVB.P	1(R1), R5 \
	SUB	R5, R4, R4 \
	MULW	R4, R4, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// I8_L2_BODY_DP is I8_L2_BODY with UDOT(|d|, |d|).
#define I8_L2_BODY_DP \
	VEOR	V0.B16, V0.B16, V0.B16 \
	VEOR	V1.B16, V1.B16, V1.B16 \
	VEOR	V2.B16, V2.B16, V2.B16 \
	VEOR	V3.B16, V3.B16, V3.B16 \
	LSR	$6, R2, R3 \
	CBZ	R3, tail32 \
loop64: \
	VLD1.P	64(R0), [V16.B16, V17.B16, V18.B16, V19.B16] \
	VLD1.P	64(R1), [V20.B16, V21.B16, V22.B16, V23.B16] \
	WORD $0x4E347610 /* sabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x4E357631 /* sabd v17.16b, v17.16b, v21.16b */ \
	WORD $0x4E367652 /* sabd v18.16b, v18.16b, v22.16b */ \
	WORD $0x4E377673 /* sabd v19.16b, v19.16b, v23.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
	WORD $0x6E919621 /* udot v1.4s, v17.16b, v17.16b */ \
	WORD $0x6E929642 /* udot v2.4s, v18.16b, v18.16b */ \
	WORD $0x6E939663 /* udot v3.4s, v19.16b, v19.16b */ \
	SUBS	$1, R3, R3 \
	BNE	loop64 \
tail32: \
	TBZ	$5, R2, tail16 \
	VLD1.P	32(R0), [V16.B16, V17.B16] \
	VLD1.P	32(R1), [V20.B16, V21.B16] \
	WORD $0x4E347610 /* sabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x4E357631 /* sabd v17.16b, v17.16b, v21.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
	WORD $0x6E919621 /* udot v1.4s, v17.16b, v17.16b */ \
tail16: \
	TBZ	$4, R2, tail8 \
	VLD1.P	16(R0), [V16.B16] \
	VLD1.P	16(R1), [V20.B16] \
	WORD $0x4E347610 /* sabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909602 /* udot v2.4s, v16.16b, v16.16b */ \
tail8: \
	TBZ	$3, R2, tail4 \
	FMOVD.P	8(R0), F16 \
	FMOVD.P	8(R1), F20 \
	WORD $0x4E347610 /* sabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909603 /* udot v3.4s, v16.16b, v16.16b */ \
tail4: \
	TBZ	$2, R2, reduce \
	FMOVS.P	4(R0), F16 \
	FMOVS.P	4(R1), F20 \
	WORD $0x4E347610 /* sabd v16.16b, v16.16b, v20.16b */ \
	WORD $0x6E909600 /* udot v0.4s, v16.16b, v16.16b */ \
reduce: \
	I32_REDUCE \
	AND	$3, R2, R2 \
	CBZ	R2, done \
scalar: \
	MOVB.P	1(R0), R4 \
	MOVB.P	1(R1), R5 \
	SUB	R5, R4, R4 \
	MULW	R4, R4, R4 \
	ADDW	R4, R7, R7 \
	SUBS	$1, R2, R2 \
	BNE	scalar \
done:

// I32_REDUCE adds the 32-bit lanes of V0-V3 into R7.
#define I32_REDUCE \
	VADD	V1.S4, V0.S4, V0.S4 \
	VADD	V3.S4, V2.S4, V2.S4 \
	VADD	V2.S4, V0.S4, V0.S4 \
	VADDV	V0.S4, V0 \
	VMOV	V0.S[0], R7

// func dotUint8NEON(a, b []uint8) uint32
TEXT ·dotUint8NEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	U8_DOT_BODY
	MOVW	R7, ret+48(FP)
	RET

// func dotUint8DotProd(a, b []uint8) uint32
TEXT ·dotUint8DotProd(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	U8_DOT_BODY_DP
	MOVW	R7, ret+48(FP)
	RET

// func squaredL2Uint8NEON(a, b []uint8) uint32
TEXT ·squaredL2Uint8NEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	U8_L2_BODY
	MOVW	R7, ret+48(FP)
	RET

// func squaredL2Uint8DotProd(a, b []uint8) uint32
TEXT ·squaredL2Uint8DotProd(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	U8_L2_BODY_DP
	MOVW	R7, ret+48(FP)
	RET

// func dotInt8NEON(a, b []int8) int32
TEXT ·dotInt8NEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	I8_DOT_BODY
	MOVW	R7, ret+48(FP)
	RET

// func dotInt8DotProd(a, b []int8) int32
TEXT ·dotInt8DotProd(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	I8_DOT_BODY_DP
	MOVW	R7, ret+48(FP)
	RET

// func squaredL2Int8NEON(a, b []int8) uint32
TEXT ·squaredL2Int8NEON(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	I8_L2_BODY
	MOVW	R7, ret+48(FP)
	RET

// func squaredL2Int8DotProd(a, b []int8) uint32
TEXT ·squaredL2Int8DotProd(SB), NOSPLIT, $0-52
	MOVD	a_base+0(FP), R0
	MOVD	a_len+8(FP), R2
	MOVD	b_base+24(FP), R1
	I8_L2_BODY_DP
	MOVW	R7, ret+48(FP)
	RET
