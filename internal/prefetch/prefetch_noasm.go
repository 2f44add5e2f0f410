//go:build (!amd64 && !arm64) || !gc || purego

package prefetch

import "unsafe"

const enabled = false

func line(p unsafe.Pointer) {}

func rangeLines(p unsafe.Pointer, n uintptr) {}
