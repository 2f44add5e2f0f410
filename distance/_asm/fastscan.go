package main

import (
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// pqFastScanKernels emits the 4-bit fast-scan kernels of package pq.
func pqFastScanKernels() {
	ConstraintExpr("amd64,gc,!purego")
	fastScan(avx2)
	fastScan(avx512)
}

// fastScan emits fastScanAVX2 or fastScanAVX512: per block of 32 codes,
// four accumulators of 16-bit words, Y0/Y1 the even/odd bytes of the
// lookups of codes 0..15, Y2/Y3 those of codes 16..31. Each 128-bit lane
// of a vector holds one subquantizer's 16-entry table (the AVX2 form does
// one pair of subquantizers per step, the AVX-512 form two); the lanes are
// added at the end of the block, then the even and odd words interleaved
// back into code order.
//
// Registers are physical and chosen by hand, so the loop stays the one
// that was measured (BenchmarkFastScan in pq).
func fastScan(k isa) {
	name := "fastScan" + k.name
	TEXT(name, NOSPLIT, "func(codes, lut *byte, nPairs, nBlocks int, out *uint16)")
	if k.is512() {
		Doc(
			name+" is fastScanAVX2 on 512-bit registers: two subquantizer pairs",
			"(64 bytes of codes and of table) per step. nPairs must be even and ≥ 2.",
		)
	} else {
		Doc(
			name+" is fastScanGeneric with VPSHUFB on 256-bit registers: one",
			"subquantizer pair (two 16-entry tables, one per 128-bit lane) per step.",
			"nPairs ≥ 1.",
		)
	}
	v := func(r VecPhysical) Register {
		if k.is512() {
			return r
		}
		return r.AsY()
	}
	acc := []Register{v(Z0), v(Z1), v(Z2), v(Z3)}
	code, lut, hi := v(Z4), v(Z5), v(Z6)
	look := []Register{v(Z7), v(Z8)} // lookups of codes 0..15, 16..31
	odd := []Register{v(Z9), v(Z10)} // their odd bytes
	lowByte, nibble := v(Z14), v(Z15)

	Pragma("noescape")
	Load(Param("codes"), RSI)
	Load(Param("lut"), RDX)
	Load(Param("nPairs"), RCX)
	if k.is512() {
		SHRQ(U8(1), RCX) // steps of two pairs
	}
	Load(Param("nBlocks"), RBX)
	Load(Param("out"), RDI)
	broadcast := func(c uint32, dst Register) {
		MOVL(U32(c), EAX)
		if k.is512() {
			VPBROADCASTD(EAX, dst)
			return
		}
		MOVQ(RAX, xr(dst))
		VPBROADCASTD(xr(dst), dst)
	}
	broadcast(0x0f0f0f0f, nibble)
	broadcast(0x00ff00ff, lowByte)

	and := func(a, b, c Op) { VPAND(a, b, c) }
	load := func(m, r Op) { VMOVDQU(m, r) }
	if k.is512() {
		and = func(a, b, c Op) { VPANDD(a, b, c) }
		load = func(m, r Op) { VMOVDQU64(m, r) }
	}
	pfx := strings.ToLower(k.name)

	Label(pfx + "_block")
	for _, a := range acc {
		k.zeroInt(a)
	}
	MOVQ(RDX, R8)
	MOVQ(RCX, R9)

	Label(pfx + "_pair")
	load(Mem{Base: RSI}, code)
	load(Mem{Base: R8}, lut)
	VPSRLW(U8(4), code, hi)
	and(nibble, code, code) // low nibbles: codes 0..15
	and(nibble, hi, hi)     // high nibbles: codes 16..31
	VPSHUFB(code, lut, look[0])
	VPSHUFB(hi, lut, look[1])
	for h := range look {
		VPSRLW(U8(8), look[h], odd[h])
		and(lowByte, look[h], look[h])
		VPADDUSW(look[h], acc[2*h], acc[2*h])
		VPADDUSW(odd[h], acc[2*h+1], acc[2*h+1])
	}
	ADDQ(U8(k.bytes), RSI)
	ADDQ(U8(k.bytes), R8)
	DECQ(R9)
	JNZ(LabelRef(pfx + "_pair"))

	Comment("Add the lanes (subquantizers) of each accumulator.")
	tmp := []Register{Z4, Z5, Z6, Z7}
	if k.is512() {
		for i, a := range acc {
			VEXTRACTI64X4(U8(1), a, yr(tmp[i]))
			VPADDUSW(yr(tmp[i]), yr(a), yr(a))
		}
	}
	for i, a := range acc {
		VEXTRACTI128(U8(1), yr(a), xr(tmp[i]))
		VPADDUSW(xr(tmp[i]), xr(a), xr(a))
	}
	Comment("Interleave even and odd words back into code order.")
	VPUNPCKLWD(xr(acc[1]), xr(acc[0]), xr(tmp[0]))
	VPUNPCKHWD(xr(acc[1]), xr(acc[0]), xr(tmp[1]))
	VPUNPCKLWD(xr(acc[3]), xr(acc[2]), xr(tmp[2]))
	VPUNPCKHWD(xr(acc[3]), xr(acc[2]), xr(tmp[3]))
	for i, t := range tmp {
		VMOVDQU(xr(t), Mem{Base: RDI, Disp: 16 * i})
	}
	ADDQ(U8(64), RDI)
	DECQ(RBX)
	JNZ(LabelRef(pfx + "_block"))
	VZEROUPPER()
	RET()
}

// zeroInt clears v with the integer XOR of the flavour.
func (k isa) zeroInt(v Op) {
	if k.is512() {
		VPXORD(v, v, v)
	} else {
		VPXOR(v, v, v)
	}
}

// xr and yr name the xmm and ymm forms of a physical vector register.
func xr(r Register) Register { return r.(VecPhysical).AsX() }
func yr(r Register) Register { return r.(VecPhysical).AsY() }
