//go:build !unix

package hnsw

import (
	"errors"
	"fmt"
	"runtime"
)

func mapFile(path string) ([]byte, error) {
	return nil, fmt.Errorf("memory-mapped open is not supported on %s (use Load): %w", runtime.GOOS, errors.ErrUnsupported)
}

func unmapFile([]byte) error { return nil }
