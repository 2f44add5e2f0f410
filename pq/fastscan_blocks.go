package pq

import "fmt"

// The functions below expose the fast-scan block layout (see FastScan) to
// indexes that keep many short code arrays, such as the inverted lists of
// ivf, and therefore cannot use one FastScan store per list. They are
// unchecked helpers of hot paths, as the distance kernels are: a slice
// shorter than its documented size or an entry outside [0, 32) panics (a
// programming error), never reads or writes past a slice's length.

// FastScanPairs returns the number of subquantizer pairs of a fast-scan
// block for m subquantizers: ⌈m/2⌉ padded to even, so that the AVX-512
// kernel takes two pairs per step. A block of 32 codes is
// 32·FastScanPairs(m) bytes.
func FastScanPairs(m int) int {
	np := (m + 1) / 2
	return np + np%2
}

// PackFastScanCode stores code (a 4-bit code packed as Encode writes it,
// ⌈m/2⌉ bytes) as entry v (0 ≤ v < 32) of blk, one block of
// 32·FastScanPairs(m) bytes, replacing what entry v held.
func PackFastScanCode(blk []byte, m, v int, code []byte) {
	checkEntry(v)
	shift := uint(0)
	if v >= 16 {
		shift = 4
	}
	keep := byte(0xf0) >> shift
	for s := range m {
		nib := code[s/2] >> (4 * (s % 2)) & 15
		i := (s/2)*32 + (s%2)*16 + v%16
		blk[i] = blk[i]&keep | nib<<shift
	}
}

// checkEntry panics unless v is an entry of a block: an unchecked
// helper may panic on a bad argument, never use another entry.
func checkEntry(v int) {
	if uint(v) >= 32 {
		panic(fmt.Sprintf("pq: fast-scan entry %d out of range [0, 32)", v))
	}
}

// UnpackFastScanCode writes entry v of blk back into code in Encode's
// packed form (⌈m/2⌉ bytes).
func UnpackFastScanCode(code, blk []byte, m, v int) {
	checkEntry(v)
	shift := uint(0)
	if v >= 16 {
		shift = 4
	}
	clear(code[: (m+1)/2 : len(code)])
	for s := range m {
		nib := blk[(s/2)*32+(s%2)*16+v%16] >> shift & 15
		code[s/2] |= nib << (4 * (s % 2))
	}
}

// FastScanEntryDistance returns the float32 ADC distance of entry v of
// blk for a table of m×16 entries (LookupTable's layout), without
// unpacking the code.
func FastScanEntryDistance(table []float32, blk []byte, m, v int) float32 {
	checkEntry(v)
	shift := uint(0)
	if v >= 16 {
		shift = 4
	}
	t := table[: m*16 : len(table)] // the capacity bound makes a short table panic
	var d float32
	for s := range m {
		nib := blk[(s/2)*32+(s%2)*16+v%16] >> shift & 15
		d += t[s*16+int(nib)]
	}
	return d
}

// QuantizeFastScanLUT writes the kernel's 8-bit table for a float table
// of m×16 entries into dst (32·FastScanPairs(m) bytes): entry j of
// subquantizer s becomes round((table[16s+j] − mins[s])·scale), halves
// rounded up, clamped to 0…255. With one scale for every table of a
// search, sums of different tables compare as sum/scale + Σ mins.
//
// An index quantizes one table per probed list, as many entries as a
// short list has codes to scan, so the rounding is done in float32
// (x+0.5, truncated) rather than through math.Round's float64 bit
// manipulation, on fixed-size windows the compiler checks once.
func QuantizeFastScanLUT(dst []byte, table []float32, m int, mins []float32, scale float32) {
	clear(dst[: FastScanPairs(m)*32 : len(dst)])
	table = table[: m*16 : len(table)]
	mins = mins[:m:len(mins)]
	for s := range m {
		t := (*[16]float32)(table[s*16:])
		o := (*[16]byte)(dst[(s/2)*32+(s%2)*16:])
		lo := mins[s]
		for j, v := range t {
			q := (v-lo)*scale + 0.5
			// The comparisons, not min and max, so that the loop has no
			// NaN and signed-zero handling; a NaN entry becomes 0.
			switch {
			case q >= 255:
				o[j] = 255
			case q > 0:
				o[j] = uint8(q)
			default:
				o[j] = 0
			}
		}
	}
}

// FastScanBlocks sets out[32·b+v] to the quantized-table sum of entry v of
// block b for the nBlocks blocks of codes, with lut from
// QuantizeFastScanLUT; nPairs is FastScanPairs(m). It uses the same kernel
// as FastScan.Search and panics on inconsistent sizes.
func FastScanBlocks(codes, lut []byte, nPairs, nBlocks int, out []uint16) {
	checkFastScan(codes, lut, nPairs, nBlocks, out)
	fastScan(codes, lut, nPairs, nBlocks, out)
}
