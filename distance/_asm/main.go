// Command _asm generates the module's amd64 assembly with avo, one package
// per run (-set):
//
//	cd distance/_asm && go run . -set distance -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg distance
//	go run . -set kmeans -out ../../internal/kmeans/panel_amd64.s -stubs ../../internal/kmeans/panel_amd64_stubs.go -pkg kmeans
//	go run . -set pq -out ../../pq/fastscan_amd64.s -stubs ../../pq/fastscan_amd64_stubs.go -pkg pq
//
// The distance kernels are below; panel.go holds the k-means assignment
// kernel and fastscan.go the 4-bit PQ fast-scan kernels.
//
// Every distance kernel comes in an AVX2+FMA and an AVX-512 (F, BW, VL) flavour built
// from the same emitters below, so the two differ only in vector width and
// in how the tail (the last len%width elements) is loaded: AVX-512 uses a
// k-mask, AVX2 a VMASKMOVPS mask (floats) or a scalar loop (bytes). Both
// masked forms suppress faults on the masked-out lanes, so no kernel reads
// past the end of a slice (guard_test.go proves it with a PROT_NONE page).
//
// Besides the float32 one-to-one, batch and gather kernels it emits the
// 8-bit kernels (VPMADDWD on words; VPDPBUSD for AVX-512 VNNI), the PQ
// lookup-sum with VGATHERDPS, the float16 kernels (VCVTPH2PS), and
// squaredL2/dot, the assembly dispatch entries of the one-to-one float
// kernels (see dispatch).
//
// check.sh regenerates all three and fails on any difference from the
// committed files.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mmcloughlin/avo/ir"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// isa describes one vector flavour.
type isa struct {
	name  string // suffix of the Go function names
	lanes int    // float32 lanes per vector
	bytes int    // bytes per vector register
	vec   func() VecVirtual
}

var (
	avx2   = isa{name: "AVX2", lanes: 8, bytes: 32, vec: YMM}
	avx512 = isa{name: "AVX512", lanes: 16, bytes: 64, vec: ZMM}
)

func (k isa) is512() bool { return k.lanes == 16 }

func (k isa) zero(v VecVirtual) {
	if k.is512() {
		VPXORD(v, v, v)
	} else {
		VXORPS(v, v, v)
	}
}

// maskTab is 8 all-ones int32 followed by 8 zeros: the 8 dwords starting at
// index 8-r form a VMASKMOVPS mask selecting the first r lanes.
var maskTab Mem

// set selects which package's assembly to emit: one output file holds
// one package's kernels.
var set = flag.String("set", "distance", "kernels to emit: distance, kmeans (internal/kmeans) or pq")

func main() {
	flag.Parse()
	switch *set {
	case "distance":
		distanceKernels()
	case "kmeans":
		kmeansKernels()
	case "pq":
		pqFastScanKernels()
	default:
		fmt.Fprintf(os.Stderr, "unknown -set %q\n", *set)
		os.Exit(2)
	}
	Generate()
}

// distanceKernels emits the kernels of package distance.
func distanceKernels() {
	ConstraintExpr("amd64,gc,!purego")

	maskTab = GLOBL("maskTab", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}

	for _, k := range []isa{avx2, avx512} {
		oneToOne(k, true)
		oneToOne(k, false)
		batch(k, true, false)
		batch(k, false, false)
		batch(k, true, true)
		batch(k, false, true)
		for _, op := range []intOp{dotU8, l2U8, dotI8, l2I8} {
			intKernel(k, op)
		}
		float16Kernel(k, true)
		float16Kernel(k, false)
	}
	for _, op := range []intOp{dotU8, l2U8, dotI8, l2I8} {
		vnniKernel(op)
	}
	dispatch(true)
	dispatch(false)
	pqKernels(avx2)
	pqKernels(avx512)
}

func kernelName(l2 bool) string {
	if l2 {
		return "squaredL2"
	}
	return "dot"
}

// accumulate emits the loops that score the vector at q against every
// vector at rows[r], each n float32s long, and returns one vector per row
// whose lanes sum to that row's result. Each row gets u independent
// accumulators so that the FMA latency is hidden: for one row the main loop
// runs u vectors per iteration; for several rows the q loads are shared and
// the rows themselves provide the independent chains.
func accumulate(k isa, l2 bool, q Register, rows []Register, n Register, u int, pfx string) []VecVirtual {
	acc := make([][]VecVirtual, len(rows))
	for r := range rows {
		acc[r] = make([]VecVirtual, u)
		for j := range acc[r] {
			acc[r][j] = k.vec()
			k.zero(acc[r][j])
		}
	}
	off := GP64()
	XORQ(off, off)
	cnt := GP64()
	MOVQ(n, cnt)
	at := func(base Register, j int) Mem {
		return Mem{Base: base, Index: off, Scale: 1, Disp: j * k.bytes}
	}
	// body scores vectors j < nv of the current position.
	body := func(nv int) {
		qs := make([]VecVirtual, nv)
		for j := range qs {
			qs[j] = k.vec()
			VMOVUPS(at(q, j), qs[j])
		}
		for r, row := range rows {
			for j := range qs {
				if l2 {
					t := k.vec()
					VSUBPS(at(row, j), qs[j], t)
					VFMADD231PS(t, t, acc[r][j])
				} else {
					VFMADD231PS(at(row, j), qs[j], acc[r][j])
				}
			}
		}
	}

	Label(pfx + "_loop")
	CMPQ(cnt, U32(u*k.lanes))
	JB(LabelRef(pfx + "_one"))
	body(u)
	ADDQ(U32(u*k.bytes), off)
	SUBQ(U32(u*k.lanes), cnt)
	JMP(LabelRef(pfx + "_loop"))

	Label(pfx + "_one")
	if u > 1 {
		CMPQ(cnt, U32(k.lanes))
		JB(LabelRef(pfx + "_tail"))
		body(1)
		ADDQ(U32(k.bytes), off)
		SUBQ(U32(k.lanes), cnt)
		JMP(LabelRef(pfx + "_one"))
		Label(pfx + "_tail")
	}

	TESTQ(cnt, cnt)
	JZ(LabelRef(pfx + "_done"))
	// 0 < cnt < lanes elements remain: load them under a mask.
	var load func(m Mem, dst VecVirtual)
	if k.is512() {
		ones := GP32()
		MOVL(U32(0xffff), ones)
		bits := GP32()
		BZHIL(cnt.As32(), ones, bits)
		mask := K()
		KMOVW(bits, mask)
		load = func(m Mem, dst VecVirtual) { VMOVUPS_Z(m, mask, dst) }
	} else {
		idx := GP64()
		MOVQ(U32(8), idx)
		SUBQ(cnt, idx)
		tab := GP64()
		LEAQ(maskTab, tab)
		mask := YMM()
		VMOVDQU(Mem{Base: tab, Index: idx, Scale: 4}, mask)
		load = func(m Mem, dst VecVirtual) { VMASKMOVPS(m, mask, dst) }
	}
	qt := k.vec()
	load(at(q, 0), qt)
	for r, row := range rows {
		t := k.vec()
		load(at(row, 0), t)
		if l2 {
			VSUBPS(qt, t, t)
			VFMADD231PS(t, t, acc[r][0])
		} else {
			VFMADD231PS(t, qt, acc[r][0])
		}
	}

	Label(pfx + "_done")
	out := make([]VecVirtual, len(rows))
	for r := range rows {
		a := acc[r]
		for len(a) > 1 {
			h := len(a) / 2
			for j := 0; j < h; j++ {
				VADDPS(a[j+h], a[j], a[j])
			}
			a = a[:h]
		}
		out[r] = a[0]
	}
	return out
}

// toXMM folds the lanes of v into a 4-lane vector with the same lane sum.
// The AVX-512 kernels use EVEX-encodable instructions only: the allocator
// may hand out X16-X31, which VEX encodings cannot name.
func toXMM(k isa, v VecVirtual) VecVirtual {
	y := v
	x := XMM()
	if k.is512() {
		y = YMM()
		VEXTRACTF64X4(U8(1), v, y)
		VADDPS(v.AsY(), y, y)
		VEXTRACTF32X4(U8(1), y, x)
	} else {
		VEXTRACTF128(U8(1), y, x)
	}
	VADDPS(y.AsX(), x, x)
	return x
}

// hsum leaves the lane sum of v in lane 0 of the returned register.
func hsum(k isa, v VecVirtual) VecVirtual {
	x := toXMM(k, v)
	t := XMM()
	VMOVHLPS(x, x, t)
	VADDPS(t, x, x)
	VMOVSHDUP(x, t)
	VADDSS(t, x, x)
	return x
}

// hsum4 returns the lane sums of v[0..3] in lanes 0..3 of one register,
// by a 4×4 transpose-and-add (VHADDPS would do, but has no EVEX form).
func hsum4(k isa, v []VecVirtual) VecVirtual {
	x := make([]VecVirtual, 4)
	for i := range x {
		x[i] = toXMM(k, v[i])
	}
	pair := func(a, b VecVirtual) VecVirtual {
		lo, hi := XMM(), XMM()
		VUNPCKLPS(b, a, lo) // a0 b0 a1 b1
		VUNPCKHPS(b, a, hi) // a2 b2 a3 b3
		VADDPS(hi, lo, lo)
		return lo
	}
	ab, cd := pair(x[0], x[1]), pair(x[2], x[3])
	lo, hi := XMM(), XMM()
	VUNPCKLPD(cd, ab, lo) // a02 b02 c02 d02
	VUNPCKHPD(cd, ab, hi) // a13 b13 c13 d13
	VADDPS(hi, lo, lo)
	return lo
}

func oneToOne(k isa, l2 bool) {
	name := kernelName(l2) + k.name
	TEXT(name, NOSPLIT, "func(a, b []float32) float32")
	Pragma("noescape")
	if l2 {
		Doc(name+" returns Σ (a[i]-b[i])² over i < len(a). It requires len(b) >= len(a).", "")
	} else {
		Doc(name+" returns Σ a[i]*b[i] over i < len(a). It requires len(b) >= len(a).", "")
	}
	a, b, n := GP64(), GP64(), GP64()
	Load(Param("a").Base(), a)
	Load(Param("b").Base(), b)
	Load(Param("a").Len(), n)
	s := hsum(k, pairSum(k, l2, a, b, n))
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// dispatch emits squaredL2 or dot: the entry the exported wrappers call,
// which branches on the feature bools of kernels_amd64.go and tail-jumps to
// the AVX-512, AVX2 or generic kernel (all share its frame layout). Go
// would need a dispatch function of its own, a second call frame and an
// exported wrapper too costly to inline; this way SquaredL2 and Dot inline
// into their callers and cost one call.
func dispatch(l2 bool) {
	name := kernelName(l2)
	TEXT(name, NOSPLIT, "func(a, b []float32) float32")
	Pragma("noescape")
	Doc(name+" runs "+name+"AVX512, "+name+"AVX2 or "+name+"Generic, as the CPU allows.",
		"It requires len(b) >= len(a).")
	feature := func(v string) Mem { return NewDataAddr(Symbol{Name: "·" + v}, 0) }
	CMPB(feature("useAVX512"), U8(0))
	JNE(LabelRef("avx512"))
	CMPB(feature("useAVX2"), U8(0))
	JNE(LabelRef("avx2"))
	tailJump(name + "Generic")
	Label("avx512")
	tailJump(name + "AVX512")
	Label("avx2")
	tailJump(name + "AVX2")
}

// tailJump emits JMP ·fn(SB), which avo's branch checks would take for a
// jump to an unknown label.
func tailJump(fn string) {
	Instruction(&ir.Instruction{
		Opcode:     "JMP",
		Operands:   []Op{LabelRef("·" + fn + "(SB)")},
		IsTerminal: true,
	})
}

// tailMask returns a loader of the first cnt (0 < cnt < lanes) elements
// at a memory operand, zeroing the other lanes without touching their
// memory: a k-mask for AVX-512, a VMASKMOVPS mask from maskTab for AVX2.
func tailMask(k isa, cnt GPVirtual) func(m Mem, dst VecVirtual) {
	if k.is512() {
		ones := GP32()
		MOVL(U32(0xffff), ones)
		bits := GP32()
		BZHIL(cnt.As32(), ones, bits)
		mask := K()
		KMOVW(bits, mask)
		return func(m Mem, dst VecVirtual) { VMOVUPS_Z(m, mask, dst) }
	}
	idx := GP64()
	MOVQ(U32(8), idx)
	SUBQ(cnt, idx)
	tab := GP64()
	LEAQ(maskTab, tab)
	mask := YMM()
	VMOVDQU(Mem{Base: tab, Index: idx, Scale: 4}, mask)
	return func(m Mem, dst VecVirtual) { VMASKMOVPS(m, mask, dst) }
}

// pairSum emits the one-to-one kernel body: n float32s at a against n at
// b, returned as one vector whose lanes sum to the result. It is shaped
// for the short vectors (96-1536) that dominate calls, where loop control
// costs as much as the arithmetic:
//   - b is the operand streamed from memory (the stored vector; a is the
//     query, hot in L1). When b is not vector-aligned, a masked head of
//     up to lanes-1 elements aligns it, so that no later load of b splits
//     a cache line: with a and b both at 16 mod 64 and b streamed from L2,
//     dims 768-1536 ran 40 % faster, dim 100 (rows at every offset) 7 %.
//   - The main loop takes 4 vectors per iteration into 4 accumulators and
//     advances the pointers themselves: base+displacement operands keep
//     VSUBPS/VFMADD231PS with a memory source micro-fused, where the
//     base+index form of the batch kernels' loop is un-laminated into two
//     uops. An 8-vector loop measured no faster at any dim and slower at
//     128-256.
//   - The remainder (< 4 vectors) runs straight-line blocks of 2 and 1
//     vectors and one masked tail; n%(4·lanes) == 0 leaves by one
//     not-taken branch.
//   - The accumulators are folded once, at the end.
func pairSum(k isa, l2 bool, a, b, n GPVirtual) VecVirtual {
	acc := make([]VecVirtual, 4)
	for j := range acc {
		acc[j] = k.vec()
		k.zero(acc[j])
	}
	add := func(x VecVirtual, m Op, ac VecVirtual) {
		if l2 {
			VSUBPS(m, x, x)
			VFMADD231PS(x, x, ac)
		} else {
			VFMADD231PS(m, x, ac)
		}
	}
	// block scores nv vectors at a, b into acc[first:], acc[first+1:], …
	block := func(nv, first int) {
		xs := make([]VecVirtual, nv)
		for j := range xs {
			xs[j] = k.vec()
			VMOVUPS(Mem{Base: a, Disp: j * k.bytes}, xs[j])
		}
		for j, x := range xs {
			add(x, Mem{Base: b, Disp: j * k.bytes}, acc[(first+j)%4])
		}
	}
	advance := func(elems int) {
		ADDQ(U32(4*elems), a)
		ADDQ(U32(4*elems), b)
	}

	// Align b, unless it is aligned already (the common case for rows of
	// Go-allocated data: one fused test-and-branch) or n is short (the
	// head would be most of the work). When a is aligned, aligning b
	// misaligns a instead, which pays only for long vectors: with a at 0
	// and b at 16 mod 64, the head cost 10 % at n=96-128, broke even at
	// 256 and saved 10-18 % at 768-1536.
	TESTB(U8(k.bytes-1), b.As8())
	JZ(LabelRef("aligned"))
	CMPQ(n, U32(2*k.lanes))
	JB(LabelRef("aligned"))
	TESTB(U8(k.bytes-1), a.As8())
	JNZ(LabelRef("head"))
	CMPQ(n, U32(256))
	JB(LabelRef("aligned"))
	Label("head")
	head := GP64()
	MOVQ(b, head)
	NEGQ(head)
	ANDQ(U32(k.bytes-1), head)
	SHRQ(U8(2), head) // elements up to b's next vector boundary
	load := tailMask(k, head)
	x, y := k.vec(), k.vec()
	load(Mem{Base: a}, x)
	load(Mem{Base: b}, y)
	if l2 {
		VSUBPS(y, x, x)
		VFMADD231PS(x, x, acc[3])
	} else {
		VFMADD231PS(y, x, acc[3])
	}
	LEAQ(Mem{Base: a, Index: head, Scale: 4}, a)
	LEAQ(Mem{Base: b, Index: head, Scale: 4}, b)
	SUBQ(head, n)

	Label("aligned")
	const unroll = 4
	end := GP64()
	MOVQ(n, end)
	ANDQ(I32(-unroll*k.lanes), end)
	JZ(LabelRef("rem"))
	LEAQ(Mem{Base: a, Index: end, Scale: 4}, end)
	Label("loop")
	block(unroll, 0)
	advance(unroll * k.lanes)
	CMPQ(a, end)
	JNE(LabelRef("loop"))
	ANDQ(U32(unroll*k.lanes-1), n)
	JZ(LabelRef("reduce"))

	Label("rem")
	for _, nv := range []int{2, 1} {
		skip := fmt.Sprintf("past%d", nv)
		CMPQ(n, U32(nv*k.lanes))
		JB(LabelRef(skip))
		block(nv, map[int]int{2: 0, 1: 2}[nv])
		advance(nv * k.lanes)
		SUBQ(U32(nv*k.lanes), n)
		Label(skip)
	}
	TESTQ(n, n)
	JZ(LabelRef("reduce"))
	load = tailMask(k, n)
	x, y = k.vec(), k.vec()
	load(Mem{Base: a}, x)
	load(Mem{Base: b}, y)
	if l2 {
		VSUBPS(y, x, x)
		VFMADD231PS(x, x, acc[1])
	} else {
		VFMADD231PS(y, x, acc[1])
	}

	Label("reduce")
	VADDPS(acc[2], acc[0], acc[0])
	VADDPS(acc[3], acc[1], acc[1])
	VADDPS(acc[1], acc[0], acc[0])
	return acc[0]
}

// batch emits the Batch (gather=false) or Gather kernel: q against rows of
// data four at a time, then one at a time.
func batch(k isa, l2, gather bool) {
	kind, sig := "Batch", "func(q, data []float32, dim int, out []float32)"
	if gather {
		kind, sig = "Gather", "func(q, data []float32, dim int, rows []uint32, out []float32)"
	}
	name := kernelName(l2) + kind + k.name
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	if gather {
		Doc(name+" sets out[i] to the "+kernelName(l2)+" of q and row rows[i] of data.",
			"It requires len(q) == dim, len(out) == len(rows) and every row in range.")
	} else {
		Doc(name+" sets out[i] to the "+kernelName(l2)+" of q and row i of data.",
			"It requires len(q) == dim and len(data) >= dim*len(out).")
	}
	q := Load(Param("q").Base(), GP64())
	data := Load(Param("data").Base(), GP64())
	dim := Load(Param("dim"), GP64())
	outp := Load(Param("out").Base(), GP64())
	nrows := Load(Param("out").Len(), GP64())
	var rowsp Register
	if gather {
		rowsp = Load(Param("rows").Base(), GP64())
	}
	stride := GP64()
	MOVQ(dim, stride)
	SHLQ(U8(2), stride)

	// rowPtr returns the address of row i of the current group (i > 0
	// only right after rowPtr(i-1), whose result it builds on).
	var prev Register
	rowPtr := func(i int) Register {
		p := GP64()
		if gather {
			MOVL(Mem{Base: rowsp, Disp: 4 * i}, p.As32())
			IMULQ(stride, p)
			ADDQ(data, p)
		} else if i == 0 {
			MOVQ(data, p)
		} else {
			LEAQ(Mem{Base: prev, Index: stride, Scale: 1}, p)
		}
		prev = p
		return p
	}
	advance := func(nr int) {
		if gather {
			ADDQ(U32(4*nr), rowsp)
		} else {
			t := GP64()
			MOVQ(stride, t)
			if nr > 1 {
				SHLQ(U8(2), t)
			}
			ADDQ(t, data)
		}
		ADDQ(U32(4*nr), outp)
		SUBQ(U32(nr), nrows)
	}

	Label("group")
	CMPQ(nrows, U32(4))
	JB(LabelRef("single"))
	ps := []Register{rowPtr(0), rowPtr(1), rowPtr(2), rowPtr(3)}
	acc := accumulate(k, l2, q, ps, dim, 2, "g")
	VMOVUPS(hsum4(k, acc), Mem{Base: outp})
	advance(4)
	JMP(LabelRef("group"))

	Label("single")
	TESTQ(nrows, nrows)
	JZ(LabelRef("done"))
	p := rowPtr(0)
	acc = accumulate(k, l2, q, []Register{p}, dim, 4, "s")
	VMOVSS(hsum(k, acc[0]), Mem{Base: outp})
	advance(1)
	JMP(LabelRef("single"))

	Label("done")
	VZEROUPPER()
	RET()
}

// float16Kernel emits the kernels that score a float32 query against an
// IEEE binary16 vector: VCVTPH2PS (F16C, or AVX-512F for 16 lanes) widens
// the halves exactly, then the arithmetic is the float32 kernel's. The
// element index i addresses both operands, q at (q)(i*4) and x at (x)(i*2).
func float16Kernel(k isa, l2 bool) {
	name := kernelName(l2) + "Float16" + k.name
	TEXT(name, NOSPLIT, "func(q []float32, x []uint16) float32")
	Pragma("noescape")
	Doc(name+" is "+kernelName(l2)+"Float16Generic with hardware half-to-single conversion. It requires len(x) >= len(q).", "")
	q := Load(Param("q").Base(), GP64())
	x := Load(Param("x").Base(), GP64())
	cnt := GP64()
	Load(Param("q").Len(), cnt)
	const u = 4
	acc := make([]VecVirtual, u)
	for j := range acc {
		acc[j] = k.vec()
		k.zero(acc[j])
	}
	i := GP64()
	XORQ(i, i)
	qm := func(j int) Mem { return Mem{Base: q, Index: i, Scale: 4, Disp: j * k.bytes} }
	xm := func(j int) Mem { return Mem{Base: x, Index: i, Scale: 2, Disp: j * k.bytes / 2} }
	// add folds converted halves t and query lanes qv (register or memory)
	// into accumulator a.
	add := func(t VecVirtual, qv Op, a VecVirtual) {
		if l2 {
			VSUBPS(qv, t, t)
			VFMADD231PS(t, t, a)
		} else {
			VFMADD231PS(qv, t, a)
		}
	}
	body := func(nv int) {
		for j := 0; j < nv; j++ {
			t := k.vec()
			VCVTPH2PS(xm(j), t)
			add(t, qm(j), acc[j])
		}
	}
	Label("loop")
	CMPQ(cnt, U32(u*k.lanes))
	JB(LabelRef("one"))
	body(u)
	ADDQ(U32(u*k.lanes), i)
	SUBQ(U32(u*k.lanes), cnt)
	JMP(LabelRef("loop"))

	Label("one")
	CMPQ(cnt, U32(k.lanes))
	JB(LabelRef("tail"))
	body(1)
	ADDQ(U32(k.lanes), i)
	SUBQ(U32(k.lanes), cnt)
	JMP(LabelRef("one"))

	Label("tail")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	if k.is512() {
		TESTQ(cnt, cnt)
		JZ(LabelRef("reduce"))
		ones, bits := GP32(), GP32()
		MOVL(U32(0xffff), ones)
		BZHIL(cnt.As32(), ones, bits)
		mask := K()
		KMOVW(bits, mask)
		h := YMM()
		VMOVDQU16_Z(xm(0), mask, h)
		t, qt := ZMM(), ZMM()
		VCVTPH2PS(h, t)
		VMOVUPS_Z(qm(0), mask, qt)
		add(t, qt, acc[2])
		Label("reduce")
		VADDPS(acc[2], acc[0], acc[0])
		sum := hsum(k, acc[0])
		VZEROUPPER()
		Store(sum, ReturnIndex(0))
		RET()
		return
	}
	VADDPS(acc[2], acc[0], acc[0])
	sum := hsum(k, acc[0])
	// Scalar tail: one half at a time through the low lane.
	Label("scalar")
	TESTQ(cnt, cnt)
	JZ(LabelRef("done"))
	r := GP32()
	MOVWLZX(xm(0), r)
	t := XMM()
	VMOVD(r, t)
	VCVTPH2PS(t, t)
	if l2 {
		VSUBSS(qm(0), t, t)
		VFMADD231SS(t, t, sum)
	} else {
		VFMADD231SS(qm(0), t, sum)
	}
	INCQ(i)
	DECQ(cnt)
	JMP(LabelRef("scalar"))
	Label("done")
	VZEROUPPER()
	Store(sum, ReturnIndex(0))
	RET()
}

// intOp is one of the 8-bit kernels: products of sign- or zero-extended
// bytes (or of their differences) summed into int32 lanes with VPMADDWD.
type intOp struct {
	name   string
	signed bool // int8 (sign-extend) or uint8 (zero-extend)
	l2     bool // square the difference instead of multiplying
	ret    string
}

var (
	dotU8 = intOp{"dotUint8", false, false, "uint32"}
	l2U8  = intOp{"squaredL2Uint8", false, true, "uint32"}
	dotI8 = intOp{"dotInt8", true, false, "int32"}
	l2I8  = intOp{"squaredL2Int8", true, true, "uint32"}
)

// intKernel widens bytes to int16 words (16 per YMM, 32 per ZMM), multiplies
// adjacent word pairs into int32 lanes with VPMADDWD (exact: |a·b| ≤ 2¹⁶ and
// a pair sum ≤ 2·255² < 2³¹), and adds them into int32 accumulators, which
// wrap exactly like the uint32/int32 results the Go kernels return.
func intKernel(k isa, op intOp) {
	name := op.name + k.name
	elem := "uint8"
	if op.signed {
		elem = "int8"
	}
	TEXT(name, NOSPLIT, "func(a, b []"+elem+") "+op.ret)
	Pragma("noescape")
	Doc(name+" is the "+k.name+" form of "+op.name+"Generic. It requires len(b) >= len(a).", "")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	cnt := GP64()
	Load(Param("a").Len(), cnt)
	per := k.bytes / 2 // bytes consumed per vector
	const u = 4
	acc := make([]VecVirtual, u)
	for j := range acc {
		acc[j] = k.vec()
		k.zero(acc[j])
	}
	widen := func(src Op, dst VecVirtual) {
		if op.signed {
			VPMOVSXBW(src, dst)
		} else {
			VPMOVZXBW(src, dst)
		}
	}
	step := func(sa, sb Op, j int) {
		x, y := k.vec(), k.vec()
		widen(sa, x)
		widen(sb, y)
		if op.l2 {
			VPSUBW(y, x, x)
			VPMADDWD(x, x, x)
		} else {
			VPMADDWD(y, x, x)
		}
		VPADDD(x, acc[j], acc[j])
	}
	Label("loop")
	CMPQ(cnt, U32(u*per))
	JB(LabelRef("one"))
	for j := 0; j < u; j++ {
		step(Mem{Base: a, Disp: j * per}, Mem{Base: b, Disp: j * per}, j)
	}
	ADDQ(U32(u*per), a)
	ADDQ(U32(u*per), b)
	SUBQ(U32(u*per), cnt)
	JMP(LabelRef("loop"))

	Label("one")
	CMPQ(cnt, U32(per))
	JB(LabelRef("tail"))
	step(Mem{Base: a}, Mem{Base: b}, 0)
	ADDQ(U32(per), a)
	ADDQ(U32(per), b)
	SUBQ(U32(per), cnt)
	JMP(LabelRef("one"))

	Label("tail")
	scalar := GP32()
	XORL(scalar, scalar)
	TESTQ(cnt, cnt)
	JZ(LabelRef("reduce"))
	if k.is512() {
		ones := GP32()
		MOVL(U32(0xffffffff), ones)
		bits := GP32()
		BZHIL(cnt.As32(), ones, bits)
		mask := K()
		KMOVD(bits, mask)
		ta, tb := YMM(), YMM()
		VMOVDQU8_Z(Mem{Base: a}, mask, ta)
		VMOVDQU8_Z(Mem{Base: b}, mask, tb)
		step(ta, tb, 0)
	} else {
		Label("scalar")
		x, y := GP32(), GP32()
		if op.signed {
			MOVBLSX(Mem{Base: a}, x)
			MOVBLSX(Mem{Base: b}, y)
		} else {
			MOVBLZX(Mem{Base: a}, x)
			MOVBLZX(Mem{Base: b}, y)
		}
		if op.l2 {
			SUBL(y, x)
			IMULL(x, x)
		} else {
			IMULL(y, x)
		}
		ADDL(x, scalar)
		INCQ(a)
		INCQ(b)
		DECQ(cnt)
		JNZ(LabelRef("scalar"))
	}

	Label("reduce")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(acc[3], acc[2], acc[2])
	VPADDD(acc[2], acc[0], acc[0])
	y := acc[0]
	if k.is512() {
		y = YMM()
		VEXTRACTI64X4(U8(1), acc[0], y)
		VPADDD(acc[0].AsY(), y, y)
	}
	x := XMM()
	if k.is512() {
		VEXTRACTI32X4(U8(1), y, x)
	} else {
		VEXTRACTI128(U8(1), y, x)
	}
	VPADDD(y.AsX(), x, x)
	t := XMM()
	VPSHUFD(U8(0x4e), x, t)
	VPADDD(t, x, x)
	VPSHUFD(U8(0xb1), x, t)
	VPADDD(t, x, x)
	r := GP32()
	VMOVD(x, r)
	ADDL(scalar, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// VPDPBUSD emits the AVX-512 VNNI instruction avo v0.5.0 does not know:
// for each int32 lane, acc += Σ of the 4 products of u's unsigned bytes
// with s's signed bytes (no saturation: it wraps like VPADDD).
func VPDPBUSD(s, u, acc Op) {
	Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
		Operands: []Op{s, u, acc},
		Inputs:   []Op{s, u, acc},
		Outputs:  []Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

// vnniKernel emits the AVX-512 VNNI form of an 8-bit kernel. VPDPBUSD
// multiplies unsigned by signed bytes and sums groups of four into int32
// lanes, 64 products per instruction with no widening. Each kernel maps its
// operands onto that with a bias of 128 (x^0x80 flips between the signed
// and unsigned reading of a byte) and corrects with a second sum:
//
//	dotUint8:    Σ a·b = Σ a·(b-128) + 128·Σ a
//	dotInt8:     Σ a·b = Σ (a+128)·b - 128·Σ b
//	squaredL2*:  d = |a-b| in [0,255] as an unsigned byte (max-min), and
//	             Σ d² = Σ d·(d-128) + 128·Σ d
//
// All sums wrap modulo 2³² like the Go kernels' uint32/int32 results, so
// the corrections are exact whenever the true result fits.
func vnniKernel(op intOp) {
	name := op.name + "VNNI"
	elem := "uint8"
	if op.signed {
		elem = "int8"
	}
	TEXT(name, NOSPLIT, "func(a, b []"+elem+") "+op.ret)
	Pragma("noescape")
	Doc(name+" is the AVX-512 VNNI form of "+op.name+"Generic. It requires len(b) >= len(a).", "")
	a := Load(Param("a").Base(), GP64())
	b := Load(Param("b").Base(), GP64())
	cnt := GP64()
	Load(Param("a").Len(), cnt)
	t := GP32()
	bias, ones := ZMM(), ZMM()
	MOVL(U32(0x80808080), t)
	VPBROADCASTD(t, bias)
	MOVL(U32(0x01010101), t)
	VPBROADCASTD(t, ones)
	const u = 2
	acc, sacc := make([]VecVirtual, u), make([]VecVirtual, u)
	for j := 0; j < u; j++ {
		acc[j], sacc[j] = ZMM(), ZMM()
		VPXORD(acc[j], acc[j], acc[j])
		VPXORD(sacc[j], sacc[j], sacc[j])
	}
	// step accumulates one 64-byte vector of each operand; xa and xb are
	// registers or memory.
	step := func(xa, xb Op, j int) {
		switch {
		case op.l2:
			va, d, lo := ZMM(), ZMM(), ZMM()
			VMOVDQU8(xa, va)
			if op.signed {
				VPMAXSB(xb, va, d)
				VPMINSB(xb, va, lo)
			} else {
				VPMAXUB(xb, va, d)
				VPMINUB(xb, va, lo)
			}
			VPSUBB(lo, d, d)
			s := ZMM()
			VPXORD(bias, d, s)
			VPDPBUSD(s, d, acc[j])
			VPDPBUSD(ones, d, sacc[j])
		case op.signed: // dotInt8
			ua, vb := ZMM(), ZMM()
			VPXORD(xa, bias, ua)
			VMOVDQU8(xb, vb)
			VPDPBUSD(vb, ua, acc[j])
			VPDPBUSD(vb, ones, sacc[j])
		default: // dotUint8
			va, sb := ZMM(), ZMM()
			VMOVDQU8(xa, va)
			VPXORD(xb, bias, sb)
			VPDPBUSD(sb, va, acc[j])
			VPDPBUSD(ones, va, sacc[j])
		}
	}
	Label("loop")
	CMPQ(cnt, U32(u*64))
	JB(LabelRef("one"))
	for j := 0; j < u; j++ {
		step(Mem{Base: a, Disp: 64 * j}, Mem{Base: b, Disp: 64 * j}, j)
	}
	ADDQ(U32(u*64), a)
	ADDQ(U32(u*64), b)
	SUBQ(U32(u*64), cnt)
	JMP(LabelRef("loop"))

	Label("one")
	CMPQ(cnt, U32(64))
	JB(LabelRef("tail"))
	step(Mem{Base: a}, Mem{Base: b}, 0)
	ADDQ(U32(64), a)
	ADDQ(U32(64), b)
	SUBQ(U32(64), cnt)

	Label("tail")
	TESTQ(cnt, cnt)
	JZ(LabelRef("reduce"))
	// Fewer than 64 bytes: masked loads read only those and zero the rest,
	// and a zero byte adds nothing in any of the four formulas (a=0, b=0:
	// 0·(0-128) + 128·0, (0+128)·0 - 128·0, d=0).
	ones64, bits := GP64(), GP64()
	MOVQ(U64(0xffffffffffffffff), ones64)
	BZHIQ(cnt, ones64, bits)
	mask := K()
	KMOVQ(bits, mask)
	ta, tb := ZMM(), ZMM()
	VMOVDQU8_Z(Mem{Base: a}, mask, ta)
	VMOVDQU8_Z(Mem{Base: b}, mask, tb)
	step(ta, tb, 1)

	Label("reduce")
	VPADDD(acc[1], acc[0], acc[0])
	VPADDD(sacc[1], sacc[0], sacc[0])
	VPSLLD(U8(7), sacc[0], sacc[0]) // ·128
	if op.signed && !op.l2 {
		VPSUBD(sacc[0], acc[0], acc[0])
	} else {
		VPADDD(sacc[0], acc[0], acc[0])
	}
	y := YMM()
	VEXTRACTI64X4(U8(1), acc[0], y)
	VPADDD(acc[0].AsY(), y, y)
	x := XMM()
	VEXTRACTI32X4(U8(1), y, x)
	VPADDD(y.AsX(), x, x)
	tx := XMM()
	VPSHUFD(U8(0x4e), x, tx)
	VPADDD(tx, x, x)
	VPSHUFD(U8(0xb1), x, tx)
	VPADDD(tx, x, x)
	r := GP32()
	VMOVD(x, r)
	VZEROUPPER()
	Store(r, ReturnIndex(0))
	RET()
}

// pqKernels emits the product-quantization lookup-sum kernels, one code
// (pqLookupSum) and a batch of contiguous codes (pqLookupSumBatch), that
// look up one float32 per subquantizer with VGATHERDPS: lane l of step s
// reads table[(s*lanes+l)*256 + code[s*lanes+l]].
func pqKernels(k isa) {
	offs := GLOBL("pqOffsets"+k.name, RODATA|NOPTR)
	for i := 0; i < k.lanes; i++ {
		DATA(4*i, U32(uint32(256*i)))
	}

	name := "pqLookupSum" + k.name
	TEXT(name, NOSPLIT, "func(table []float32, code []uint8) float32")
	Pragma("noescape")
	Doc(name+" is pqLookupSumGeneric with VGATHERDPS. It requires len(table) >= 256*len(code).", "")
	t := Load(Param("table").Base(), GP64())
	c := Load(Param("code").Base(), GP64())
	n := GP64()
	Load(Param("code").Len(), n)
	off := k.vec()
	loadInts(k, offs, off)
	s := pqBody(k, t, c, n, off, "one")
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()

	name = "pqLookupSumBatch" + k.name
	TEXT(name, NOSPLIT, "func(table []float32, codes []uint8, m int, out []float32)")
	Pragma("noescape")
	Doc(name+" sets out[i] = "+"pqLookupSum"+k.name+"(table, codes[i*m:(i+1)*m]).",
		"It requires m > 0, len(codes) >= m*len(out) and len(table) >= 256*m.")
	t = Load(Param("table").Base(), GP64())
	c = Load(Param("codes").Base(), GP64())
	m := Load(Param("m"), GP64())
	outp := Load(Param("out").Base(), GP64())
	rows := Load(Param("out").Len(), GP64())
	off = k.vec()
	loadInts(k, offs, off)
	Label("row")
	TESTQ(rows, rows)
	JZ(LabelRef("done"))
	tt, cnt := GP64(), GP64()
	MOVQ(t, tt)
	MOVQ(m, cnt)
	s = pqBody(k, tt, c, cnt, off, "b")
	VMOVSS(s, Mem{Base: outp})
	ADDQ(U32(4), outp)
	DECQ(rows)
	JMP(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

// loadInts loads a full vector of int32 with whichever encoding k has.
func loadInts(k isa, m Mem, dst VecVirtual) {
	if k.is512() {
		VMOVDQU32(m, dst)
	} else {
		VMOVDQU(m, dst)
	}
}

// pqBody sums the lookups of the n codes at c (advancing c past them and
// t past their sub-tables) and returns the sum in lane 0 of an XMM.
func pqBody(k isa, t, c, n Register, off VecVirtual, pfx string) VecVirtual {
	acc0, acc1 := k.vec(), k.vec()
	k.zero(acc0)
	k.zero(acc1)
	stepBytes := 256 * 4 * k.lanes // table bytes covered by one gather
	gather := func(accum VecVirtual, disp int, codeMem Op, mask func() Op) {
		idx, g := k.vec(), k.vec()
		VPMOVZXBD(codeMem, idx)
		VPADDD(off, idx, idx)
		// g is zeroed so that it is live into the gather and cannot share
		// a register with idx or the mask (the instruction faults if it
		// does).
		k.zero(g)
		mem := Mem{Base: t, Index: idx, Scale: 4, Disp: disp}
		if k.is512() {
			VGATHERDPS(mem, mask(), g)
		} else {
			VGATHERDPS(mask(), mem, g)
		}
		VADDPS(g, accum, accum)
	}
	full := func() Op {
		if k.is512() {
			km := K()
			KXNORW(km, km, km)
			return km
		}
		ym := YMM()
		VPCMPEQD(ym, ym, ym)
		return ym
	}
	codeMem := func(disp int) Op { return Mem{Base: c, Disp: disp} }

	Label(pfx + "_loop")
	CMPQ(n, U32(2*k.lanes))
	JB(LabelRef(pfx + "_one"))
	gather(acc0, 0, codeMem(0), full)
	gather(acc1, stepBytes, codeMem(k.lanes), full)
	ADDQ(U32(2*stepBytes), t)
	ADDQ(U32(2*k.lanes), c)
	SUBQ(U32(2*k.lanes), n)
	JMP(LabelRef(pfx + "_loop"))

	Label(pfx + "_one")
	CMPQ(n, U32(k.lanes))
	JB(LabelRef(pfx + "_tail"))
	gather(acc0, 0, codeMem(0), full)
	ADDQ(U32(stepBytes), t)
	ADDQ(U32(k.lanes), c)
	SUBQ(U32(k.lanes), n)

	Label(pfx + "_tail")
	if k.is512() {
		// Fewer than 16 codes: load them and gather under one mask.
		TESTQ(n, n)
		JZ(LabelRef(pfx + "_sum"))
		ones, bits := GP32(), GP32()
		MOVL(U32(0xffff), ones)
		BZHIL(n.(GPVirtual).As32(), ones, bits)
		mask := K()
		KMOVW(bits, mask)
		codes := XMM()
		VMOVDQU8_Z(Mem{Base: c}, mask, codes)
		ADDQ(n, c)
		SHLQ(U8(10), n)
		gather(acc1, 0, codes, func() Op { return mask })
		ADDQ(n, t)
		Label(pfx + "_sum")
		VADDPS(acc1, acc0, acc0)
		return hsum(k, acc0)
	}
	VADDPS(acc1, acc0, acc0)
	sum := hsum(k, acc0)
	Label(pfx + "_scalar")
	TESTQ(n, n)
	JZ(LabelRef(pfx + "_done"))
	i := GP64()
	MOVBQZX(Mem{Base: c}, i)
	VADDSS(Mem{Base: t, Index: i, Scale: 4}, sum, sum)
	ADDQ(U32(1024), t)
	INCQ(c)
	DECQ(n)
	JMP(LabelRef(pfx + "_scalar"))
	Label(pfx + "_done")
	return sum
}
