package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Geometry of the k-means panel kernel; internal/kmeans's panelRows and
// panelWidth must match.
const (
	panelRows  = 4  // points scored at a time
	panelWidth = 32 // centroids per panel: two zmm of float32
)

// kmeansKernels emits the assignment kernel of package internal/kmeans.
func kmeansKernels() {
	ConstraintExpr("amd64,gc,!purego")
	// The lane numbers of a zmm, 0..15.
	laneIdx := GLOBL("laneIdx", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(i))
	}
	panelArgmin(laneIdx)
}

// panelArgmin emits panelArgminAVX512, a 4×32 register-blocked
// matrix-multiply tile with the argmin fused.
//
// Registers are physical and chosen by hand: the kernel's 8 accumulators,
// 2 panel vectors, 4 broadcasts and 4 constants are exactly 18 zmm, and
// the loop is the one that was measured (BenchmarkAssign in
// internal/kmeans); the allocator would be free to lay it out otherwise.
func panelArgmin(laneIdx Mem) {
	TEXT("panelArgminAVX512", NOSPLIT, "func(x *float32, dim int, panels *float32, npanels int, norms *float32, base int32, bestV *float32, bestI *int32)")
	Doc(
		"panelArgminAVX512 scores 4 points (rows of x, stride dim) against npanels",
		"panels of 32 centroids stored transposed (panel p, row d: coordinate d of",
		"centroids 32p..32p+31) and keeps, per point and per lane, the lowest",
		"v = ‖c‖² − 2·x·c seen so far and its centroid index base+32p+lane: bestV and",
		"bestI are 4×32 arrays updated in place, ties keeping the earlier index.",
		"Each step of the inner loop loads one panel row (2 zmm) and broadcasts one",
		"coordinate of each point: 6 loads for 8 FMAs, so the FMA units, not the",
		"loads, set the pace. It requires dim ≥ 1 and npanels ≥ 1.",
	)
	Pragma("noescape")
	Load(Param("x"), R10)
	Load(Param("dim"), RCX)
	Load(Param("panels"), RSI)
	Load(Param("npanels"), RBX)
	Load(Param("norms"), RDX)
	Load(Param("base"), EAX)
	Load(Param("bestV"), RDI)
	Load(Param("bestI"), R9)

	Comment("Row pointers of the points.")
	rows := []GPPhysical{R10, R11, R12, R13}
	for r := 1; r < panelRows; r++ {
		LEAQ(Mem{Base: rows[r-1], Index: RCX, Scale: 4}, rows[r])
	}

	Comment("Z14 = -2, Z15/Z16 = lane indices base+0..15 / base+16..31, Z17 = 32.")
	minus2, idxLo, idxHi, step := Z14, Z15, Z16, Z17
	MOVL(U32(0xc0000000), R8L) // -2.0f
	VPBROADCASTD(R8L, minus2)
	VPBROADCASTD(EAX, idxLo)
	LEAQ(laneIdx, R8)
	VPADDD(Mem{Base: R8}, idxLo, idxLo)
	MOVL(U32(16), R8L)
	VPBROADCASTD(R8L, step)
	VPADDD(step, idxLo, idxHi)
	MOVL(U32(panelWidth), R8L)
	VPBROADCASTD(R8L, step)

	// acc[2r+h] accumulates point r against centroids 16h..16h+15.
	acc := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7}
	cLo, cHi := Z8, Z9
	bcast := []VecPhysical{Z10, Z11, Z12, Z13}

	Label("panel")
	for _, a := range acc {
		VPXORD(a, a, a)
	}
	XORQ(R8, R8)

	Label("row")
	VMOVUPS(Mem{Base: RSI}, cLo)
	VMOVUPS(Mem{Base: RSI, Disp: 64}, cHi)
	for r, row := range rows {
		VBROADCASTSS(Mem{Base: row, Index: R8, Scale: 4}, bcast[r])
	}
	for r := range rows {
		VFMADD231PS(cLo, bcast[r], acc[2*r])
		VFMADD231PS(cHi, bcast[r], acc[2*r+1])
	}
	ADDQ(U32(4*panelWidth), RSI)
	INCQ(R8)
	CMPQ(R8, RCX)
	JLT(LabelRef("row"))

	Comment("v = ‖c‖² − 2·dot")
	VMOVUPS(Mem{Base: RDX}, cLo)
	VMOVUPS(Mem{Base: RDX, Disp: 64}, cHi)
	for r := range rows {
		VFMADD213PS(cLo, minus2, acc[2*r])
		VFMADD213PS(cHi, minus2, acc[2*r+1])
	}

	Comment("Keep the lanes that improve (strictly: ties keep the lower index).")
	for i, a := range acc {
		idx := idxLo
		if i%2 == 1 {
			idx = idxHi
		}
		off := 64 * i
		VMOVUPS(Mem{Base: RDI, Disp: off}, cLo)
		VCMPPS(U8(1), cLo, a, K1) // a < best (LT_OS)
		VMOVUPS(a, K1, Mem{Base: RDI, Disp: off})
		VMOVDQU32(idx, K1, Mem{Base: R9, Disp: off})
	}

	VPADDD(step, idxLo, idxLo)
	VPADDD(step, idxHi, idxHi)
	ADDQ(U32(4*panelWidth), RDX)
	DECQ(RBX)
	JNZ(LabelRef("panel"))
	VZEROUPPER()
	RET()
}
