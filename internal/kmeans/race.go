//go:build race

package kmeans

import (
	"runtime"
	"unsafe"
)

// The race detector instruments Go code only. The dispatch functions in
// front of the assembly kernels report the memory those kernels read and
// write, so that `go test -race` (without -tags purego) still sees a race
// between a kernel and a concurrent writer. Without -race the calls vanish
// (raceEnabled is a false constant).
const raceEnabled = true

func raceRead[T any](s []T) {
	if len(s) > 0 {
		runtime.RaceReadRange(unsafe.Pointer(unsafe.SliceData(s)), len(s)*int(unsafe.Sizeof(s[0])))
	}
}

func raceWrite[T any](s []T) {
	if len(s) > 0 {
		runtime.RaceWriteRange(unsafe.Pointer(unsafe.SliceData(s)), len(s)*int(unsafe.Sizeof(s[0])))
	}
}
