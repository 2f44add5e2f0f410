//go:build linux || darwin

package distance

import (
	"syscall"
	"testing"
	"unsafe"
)

// guardPage maps size bytes of read-write memory followed by one page that
// may not be touched, and returns the read-write part. A kernel that reads
// one byte past the end of a slice ending at the end of this memory faults,
// which the Go runtime turns into a crash of the test binary: the test
// proves the masked and scalar tails never over-read, which the values of
// the result alone cannot show.
func guardPage(t *testing.T, size int) []byte {
	t.Helper()
	page := syscall.Getpagesize()
	size = (size + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size+page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	t.Cleanup(func() { syscall.Munmap(mem) })
	if err := syscall.Mprotect(mem[size:], syscall.PROT_NONE); err != nil {
		t.Skipf("mprotect: %v", err)
	}
	return mem[:size:size]
}

func floatsAtEnd(mem []byte, n int) []float32 {
	all := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(mem))), len(mem)/4)
	return all[len(all)-n:]
}

func TestNoOverRead(t *testing.T) {
	r := newRand(t)
	lengths := []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 97, 100, 127, 128, 129, 255, 256, 257, 768, 784}
	if !testing.Short() {
		for n := 0; n <= 300; n++ {
			lengths = append(lengths, n)
		}
	}
	const maxRows = 9
	fa, fb, fd := guardPage(t, 4*4096), guardPage(t, 4*4096), guardPage(t, 4*784*maxRows)
	for _, im := range implementations() {
		t.Run(im.name, func(t *testing.T) {
			for _, n := range lengths {
				a, b := floatsAtEnd(fa, n), floatsAtEnd(fb, n)
				copy(a, randFloats(r, n))
				copy(b, randFloats(r, n))
				im.squaredL2(a, b)
				im.dot(a, b)
				im.dot(b, a)
				ua, ub := fa[len(fa)-n:], fb[len(fb)-n:]
				im.dotUint8(ua, ub)
				im.squaredL2Uint8(ub, ua)
				ia, ib := asInt8View(ua), asInt8View(ub)
				im.dotInt8(ia, ib)
				im.squaredL2Int8(ib, ia)
				hx := asUint16View(fb[len(fb)-2*n:])
				im.squaredL2Float16(a, hx)
				im.dotFloat16(a, hx)
				if n == 0 {
					continue
				}
				for rows := 0; rows <= maxRows; rows++ {
					data := floatsAtEnd(fd, rows*n)
					out := make([]float32, rows)
					im.squaredL2Batch(a, data, n, out)
					im.dotBatch(a, data, n, out)
					idx := make([]uint32, rows)
					for i := range idx {
						idx[i] = uint32(rows - 1 - i)
					}
					im.squaredL2Gather(a, data, n, idx, out)
					im.dotGather(a, data, n, idx, out)
				}
				if n <= 16 {
					table := floatsAtEnd(fd, 256*n)
					code := fa[len(fa)-n:]
					for i := range code {
						code[i] = 255
					}
					im.pqLookupSum(table, code)
					out := make([]float32, 1)
					im.pqLookupSumBatch(table, code, n, out)
				}
			}
		})
	}
}

func asInt8View(b []byte) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

func asUint16View(b []byte) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/2)
}
