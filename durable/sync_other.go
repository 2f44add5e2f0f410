//go:build !linux

package durable

import "os"

// datasync is f.Sync where fdatasync is not available (on macOS Sync is
// fsync, which does not flush the drive's cache; F_FULLFSYNC would).
func datasync(f *os.File) error { return f.Sync() }
