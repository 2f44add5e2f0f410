package hugepage

import (
	"runtime"
	"testing"
)

// TestBuffers: every size comes back zeroed, of the asked length and
// writable end to end.
func TestBuffers(t *testing.T) {
	for _, n := range []int{0, 1, 1000, MinBytes/4 - 1, MinBytes / 4, MinBytes/4 + 12345, 3 * Size / 4} {
		b := Uint32s(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("n=%d: len %d cap %d", n, len(b), cap(b))
		}
		for i, v := range b {
			if v != 0 {
				t.Fatalf("n=%d: b[%d] = %d", n, i, v)
			}
			b[i] = uint32(i)
		}
		for i, v := range b {
			if v != uint32(i) {
				t.Fatalf("n=%d: b[%d] = %d after writing", n, i, v)
			}
		}
		f := Float32s(n)
		if len(f) != n {
			t.Fatalf("Float32s(%d): len %d", n, len(f))
		}
	}
}

// TestReuse: memory the Go heap hands out again after a collection still
// reads as zero after the advice dropped its pages.
func TestReuse(t *testing.T) {
	for range 4 {
		runtime.GC()
		b := Uint32s(3 * MinBytes / 4)
		for i := range b {
			if b[i] != 0 {
				t.Fatalf("b[%d] = %d", i, b[i])
			}
			b[i] = ^uint32(0)
		}
	}
}
