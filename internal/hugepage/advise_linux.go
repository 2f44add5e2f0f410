package hugepage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

var enabled = true

// advise asks for huge pages over b, which is zero, starts on a huge page
// boundary and spans whole huge pages. The Go heap may have handed out
// memory it had used and cleared, already backed by small pages; the
// kernel replaces those by a huge page only when khugepaged gets to them,
// minutes later if ever. So b's pages are also dropped (MADV_DONTNEED):
// the next touch faults in a zeroed huge page, and b reads as zero
// throughout, as make promised. Errors are ignored: the advice is a hint
// (EINVAL where THP is compiled out), and b works either way.
func advise(b []uint32) {
	if len(b) == 0 {
		return
	}
	m := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b)*4)
	if unix.Madvise(m, unix.MADV_HUGEPAGE) == nil {
		_ = unix.Madvise(m, unix.MADV_DONTNEED)
	}
}
