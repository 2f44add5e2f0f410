//go:build unix

package ivf

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps path read-only; an empty file is read (mmap of 0 bytes
// fails).
func mapFile(path string) ([]byte, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	size := st.Size()
	if size == 0 || int64(int(size)) != size {
		return readWhole(path)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func unmapFile(data []byte) error { return unix.Munmap(data) }
