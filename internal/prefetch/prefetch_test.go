package prefetch

import (
	"fmt"
	"testing"
	"unsafe"
)

// A prefetch must not fault or write, whatever the address: nil,
// unaligned, and ranges of every length around line boundaries.
func TestHintsAreHarmless(t *testing.T) {
	buf := make([]byte, 4096+128)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	Line(nil)
	Range(nil, 0)
	Range(nil, 256)
	for off := range 67 {
		for _, n := range []uintptr{0, 1, 63, 64, 65, 127, 128, 129, 1000, 3136} {
			p := unsafe.Pointer(&buf[off])
			Line(p)
			Range(p, n)
		}
	}
	for i := range buf {
		if buf[i] != byte(i*7) {
			t.Fatalf("byte %d changed", i)
		}
	}
}

// rangeLines visits one line per 64 bytes; a wrong bound in the assembly
// loop shows up as a hang (caught by the test timeout) or as a cost that
// grows far faster than the range.
func BenchmarkRange(b *testing.B) {
	buf := make([]float32, 784*64)
	for _, n := range []int{64, 3136} {
		b.Run(fmt.Sprintf("bytes=%d", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				Range(unsafe.Pointer(&buf[(i%64)*784]), uintptr(n))
				i++
			}
		})
	}
}
