package pq

import (
	"fmt"
	"math"
	"strconv"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/heap"
)

// FastScan stores 4-bit product-quantization codes in the fast-scan layout
// of André, Kermarrec and Le Scouarnec ("Quicker ADC", 2019) and FAISS's
// IndexPQFastScan, and searches them with lookup tables held in SIMD
// registers instead of memory.
//
// With 4-bit codes a subquantizer's lookup table has 16 entries: quantized
// to 8 bits it fits a 128-bit register, and one VPSHUFB (amd64) or TBL
// (arm64) looks up 16 codes at once — 32 per AVX2 and 64 per AVX-512
// instruction, two subquantizers side by side. Codes are stored in blocks of 32: for
// each pair of subquantizers (2p, 2p+1), 32 bytes whose first 16 hold
// subquantizer 2p of codes 0..15 (low nibbles) and 16..31 (high nibbles),
// the next 16 the same for subquantizer 2p+1. Sums accumulate in uint16.
// The 8-bit tables lose precision, so Search re-ranks the best candidates
// with the exact float32 ADC distance.
//
// Add is not safe for concurrent use; Search is safe for concurrent use
// with other Searches but not with Add.
type FastScan struct {
	pq     *ProductQuantizer
	nPairs int // subquantizer pairs, padded to even so AVX-512 takes two at a time
	n      int
	blocks []byte
	codes  []byte // the packed codes as given to Add, for re-ranking
}

// fastScanImpl is one implementation of the scan kernel, for tests and
// benchmarks.
type fastScanImpl struct {
	name string
	fn   func(codes, lut []byte, nPairs, nBlocks int, out []uint16)
}

// maxFastScanPairs bounds M so that uint16 sums cannot overflow:
// 255·2·128 < 65536.
const maxFastScanPairs = 128

func checkFastScan(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	if nPairs < 1 || nPairs > maxFastScanPairs || nBlocks < 0 || len(lut) < nPairs*32 ||
		len(codes) < nBlocks*nPairs*32 || len(out) < nBlocks*32 {
		panic("pq: fast-scan kernel: inconsistent sizes: nPairs=" + strconv.Itoa(nPairs) + " nBlocks=" + strconv.Itoa(nBlocks) +
			" len(codes)=" + strconv.Itoa(len(codes)) + " len(lut)=" + strconv.Itoa(len(lut)) + " len(out)=" + strconv.Itoa(len(out)))
	}
}

// raceFastScan reports to the race detector the memory an assembly
// fast-scan kernel reads and writes (sizes already checked by
// checkFastScan).
func raceFastScan(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	raceRead(lut[:nPairs*32])
	raceRead(codes[:nBlocks*nPairs*32])
	raceWrite(out[:nBlocks*32])
}

// FastScanImplementation names the fast-scan kernel in use: "avx512",
// "avx2", "neon" or "generic".
func FastScanImplementation() string { return fastScanImplementation() }

// NewFastScan returns an empty fast-scan store for codes of p, which must
// be trained with NBits = 4 and M ≤ 256. Errors wrap nearkit.ErrNotTrained
// or nearkit.ErrInvalidConfig.
func NewFastScan(p *ProductQuantizer) (*FastScan, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: fast-scan of a nil quantizer", nearkit.ErrInvalidConfig)
	}
	if err := p.checkTrained(); err != nil {
		return nil, err
	}
	if p.NBits() != 4 {
		return nil, fmt.Errorf("%w: fast-scan needs 4-bit codes, quantizer has %d bits", nearkit.ErrInvalidConfig, p.NBits())
	}
	np := (p.M() + 1) / 2
	np += np % 2
	if np > maxFastScanPairs {
		return nil, fmt.Errorf("%w: fast-scan supports M ≤ %d, got %d", nearkit.ErrInvalidConfig, 2*maxFastScanPairs, p.M())
	}
	return &FastScan{pq: p, nPairs: np}, nil
}

// Len returns the number of codes stored.
func (f *FastScan) Len() int { return f.n }

// Add appends codes (CodeSize bytes each, as written by Encode or
// EncodeBatch of the quantizer); the i-th code added gets ID Len()+i.
// It returns an error wrapping nearkit.ErrDimension if len(codes) is not a
// multiple of CodeSize, and nearkit.ErrInvalidConfig beyond 2³² codes.
func (f *FastScan) Add(codes []byte) error {
	cs := f.pq.CodeSize()
	if len(codes)%cs != 0 {
		return fmt.Errorf("%w: fast-scan: %d bytes is not a whole number of %d-byte codes", nearkit.ErrDimension, len(codes), cs)
	}
	add := len(codes) / cs
	if uint64(f.n)+uint64(add) > math.MaxUint32 {
		return fmt.Errorf("%w: fast-scan holds at most 2³² codes", nearkit.ErrInvalidConfig)
	}
	bs := f.nPairs * 32
	need := (f.n + add + 31) / 32 * bs
	if need > len(f.blocks) {
		f.blocks = append(f.blocks, make([]byte, need-len(f.blocks))...)
	}
	m := f.pq.M()
	for i := range add {
		code := codes[i*cs : (i+1)*cs]
		id := f.n + i
		blk := f.blocks[id/32*bs : (id/32+1)*bs]
		v := id % 32
		shift := 0
		if v >= 16 {
			shift = 4
		}
		for s := range m {
			nib := code[s/2] >> (4 * (s % 2)) & 15
			blk[(s/2)*32+(s%2)*16+v%16] |= nib << shift
		}
	}
	f.codes = append(f.codes, codes...)
	f.n += add
	return nil
}

// quantizeLUT converts the float table (M×16) to the per-pair uint8 layout
// of the kernel: entry = round((t − min_s)·scale), with one scale for all
// subquantizers (so sums stay comparable) chosen so the widest
// subquantizer range maps to 255. A code's distance is then approximately
// sum/scale + bias, bias = Σ_s min_s; only the order of the sums matters
// for candidate selection.
func (f *FastScan) quantizeLUT(table []float32, qlut []byte) (scale, bias float32) {
	m := f.pq.M()
	mins := make([]float32, m)
	maxRange := float32(0)
	for s := range m {
		t := table[s*16 : (s+1)*16]
		lo, hi := t[0], t[0]
		for _, v := range t {
			lo, hi = min(lo, v), max(hi, v)
		}
		mins[s] = lo
		bias += lo
		maxRange = max(maxRange, hi-lo)
	}
	scale = 1
	if maxRange > 0 {
		scale = 255 / maxRange
	}
	QuantizeFastScanLUT(qlut, table, m, mins, scale)
	return scale, bias
}

// scanChunk is the number of blocks scanned per kernel call: 64 blocks
// = 2,048 uint16 sums (4 KiB), which stay in L1 for candidate selection.
const scanChunk = 64

// Search returns the k codes nearest to q, appended to dst[:0] in
// ascending order of exact ADC distance (ties by ID). The whole store is
// scanned with the 8-bit fast-scan tables; the rerank best candidates of
// that scan (at least k; 0 means 4·k) are re-scored with the float32
// lookup table, which makes the returned distances exact ADC distances and
// recovers most of the order the 8-bit tables blur.
func (f *FastScan) Search(dst []nearkit.Result, q []float32, k, rerank int) ([]nearkit.Result, error) {
	dst = dst[:0]
	if err := check.K(k); err != nil {
		return dst, err
	}
	table, err := f.pq.LookupTable(nil, q)
	if err != nil {
		return dst, err
	}
	if f.n == 0 {
		return dst, nil
	}
	if rerank <= 0 {
		rerank = 4 * k
	}
	rerank = max(rerank, k)
	qlut := make([]byte, f.nPairs*32)
	f.quantizeLUT(table, qlut)

	var cand heap.Max
	thr := 1 << 16 // every sum passes until the heap is full
	bs := f.nPairs * 32
	nBlocks := (f.n + 31) / 32
	sums := make([]uint16, scanChunk*32)
	for b0 := 0; b0 < nBlocks; b0 += scanChunk {
		nb := min(scanChunk, nBlocks-b0)
		fastScan(f.blocks[b0*bs:(b0+nb)*bs], qlut, f.nPairs, nb, sums)
		base := b0 * 32
		cnt := min(nb*32, f.n-base)
		// IDs grow through the scan, so a sum equal to the worst kept one
		// loses the tie: only strictly smaller sums enter a full heap.
		for i, s := range sums[:cnt] {
			if int(s) >= thr {
				continue
			}
			cand.PushBounded(heap.Item{Dist: float32(s), ID: uint32(base + i)}, rerank)
			if cand.Len() == rerank {
				thr = int(cand.Top().Dist)
			}
		}
	}
	var best heap.Max
	cs := f.pq.CodeSize()
	for _, it := range cand.Items() {
		d := f.pq.lookupSumPacked(table, f.codes[int(it.ID)*cs:(int(it.ID)+1)*cs])
		best.PushBounded(heap.Item{Dist: d, ID: it.ID}, k)
	}
	items := best.DrainSorted(nil)
	for _, it := range items {
		dst = append(dst, nearkit.Result{ID: uint64(it.ID), Distance: it.Dist})
	}
	return dst, nil
}
