//go:build !unix && !windows

package durable

import "os"

// lockFile opens path without locking it: this platform (js/wasm, wasip1,
// plan9) has no advisory file locks the kernel drops on process death, and
// a lock file created exclusively would outlive a crash and keep the
// directory shut. Keeping a second process out is the caller's job here.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}
