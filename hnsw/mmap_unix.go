//go:build unix

package hnsw

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"

	"github.com/nearkit/nearkit"
)

// mapFile maps path read-only. The mapping outlives the file descriptor,
// and a later rename over path (Save) does not change it.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < 16 {
		return nil, fmt.Errorf("%w: %d-byte file", nearkit.ErrCorrupt, size)
	}
	if size > math.MaxInt {
		return nil, fmt.Errorf("%w: %d-byte file too large to map on this platform", nearkit.ErrIncompatible, size)
	}
	return unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
}

func unmapFile(data []byte) error { return unix.Munmap(data) }
