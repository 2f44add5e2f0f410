package nearkit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// SaveFile writes w to path crash-safely: it writes to a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so path holds either the old contents or the complete new ones,
// never a torn write.
func SaveFile(path string, w io.WriterTo) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err = w.WriteTo(bw); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("nearkit: save %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
