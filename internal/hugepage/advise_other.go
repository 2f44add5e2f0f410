//go:build !linux

package hugepage

// Only Linux has transparent huge pages that a process can ask for.
var enabled = false

func advise([]uint32) {}
