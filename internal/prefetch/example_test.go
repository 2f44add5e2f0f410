package prefetch_test

import (
	"fmt"
	"unsafe"

	"github.com/nearkit/nearkit/internal/prefetch"
)

// Ask for a vector's cache lines before scoring it; the hint never changes
// the result.
func Example() {
	vec := []float32{1, 2, 3, 4}
	prefetch.Range(unsafe.Pointer(&vec[0]), uintptr(len(vec))*4)
	var s float32
	for _, x := range vec {
		s += x * x
	}
	fmt.Println(s)
	// Output: 30
}
