//go:build !unix

package ivf

func mapFile(path string) ([]byte, bool, error) { return readWhole(path) }

func unmapFile([]byte) error { return nil }
