package dataset

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// ReadIDX reads an IDX file of unsigned bytes (the MNIST / Fashion-MNIST
// format: big-endian magic 0x000008NN with NN dimensions, NN big-endian
// uint32 sizes, then the bytes), gzip-compressed or not, and returns its
// items as rows of float32 (0..255): n rows of dim values, where n is the
// first size and dim the product of the others (1 for a 1-d file). Offsets
// in errors count decompressed bytes.
func ReadIDX(r io.Reader, name string) (data []float32, n, dim int, err error) {
	br := bufio.NewReaderSize(r, 1<<16)
	gz := false
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, 0, 0, formatErr(name, 0, "gzip: %v", err)
		}
		defer zr.Close()
		gz = true
		br = bufio.NewReaderSize(zr, 1<<16)
	}
	var hdr [4]byte
	if k, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, 0, 0, formatErr(name, int64(k), "truncated IDX header")
	}
	if hdr[0] != 0 || hdr[1] != 0 {
		return nil, 0, 0, formatErr(name, 0, "bad IDX magic % x", hdr)
	}
	if hdr[2] != 0x08 {
		return nil, 0, 0, formatErr(name, 2, "IDX element type %#02x is not unsigned byte (0x08)", hdr[2])
	}
	ndim := int(hdr[3])
	if ndim < 1 || ndim > 4 {
		return nil, 0, 0, formatErr(name, 3, "IDX has %d dimensions, want 1..4", ndim)
	}
	off := int64(4)
	dim = 1
	for i := 0; i < ndim; i++ {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, 0, 0, formatErr(name, off, "truncated IDX header")
		}
		s := int(binary.BigEndian.Uint32(hdr[:]))
		if i == 0 {
			n = s
		} else {
			dim *= s
			if s == 0 || dim > MaxDim {
				return nil, 0, 0, formatErr(name, off, "IDX item size %d out of range 1..%d", dim, MaxDim)
			}
		}
		off += 4
	}
	// Grow with the data actually read rather than trusting n, so a forged
	// header cannot demand gigabytes before the truncation is noticed.
	data = make([]float32, 0, min(n*dim, 1<<20))
	row := make([]byte, dim)
	for i := 0; i < n; i++ {
		if k, err := io.ReadFull(br, row); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, 0, 0, formatErr(name, off+int64(k), "truncated at item %d of %d", i, n)
			}
			if gz { // a damaged compressed stream, not an I/O failure
				return nil, 0, 0, formatErr(name, off+int64(k), "item %d: %v", i, err)
			}
			return nil, 0, 0, fmt.Errorf("%s: offset %d: %w", name, off, err)
		}
		for _, b := range row {
			data = append(data, float32(b))
		}
		off += int64(dim)
	}
	if gz {
		// Only reading the compressed stream to its end checks the gzip
		// trailer (CRC-32 and length): without it a damaged .gz whose
		// deflate data still decodes would load wrong pixels.
		if _, err := io.Copy(io.Discard, br); err != nil {
			return nil, 0, 0, formatErr(name, off, "gzip trailer: %v", err)
		}
	}
	return data, n, dim, nil
}

// LoadIDX reads an IDX file (gzip or raw) from path; see ReadIDX.
func LoadIDX(path string) ([]float32, int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	return ReadIDX(f, path)
}
