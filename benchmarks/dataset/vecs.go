package dataset

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/nearkit/nearkit"
)

// MaxDim bounds the dimension a reader accepts. Every public ANN dataset is
// far below it; the bound keeps a corrupt header from requesting a huge row
// buffer.
const MaxDim = 1 << 16

// FormatError reports malformed data: the file (or stream name), the byte
// offset where the problem starts, and what is wrong. It wraps
// nearkit.ErrCorrupt.
type FormatError struct {
	File   string
	Offset int64
	Msg    string
}

// Error returns "file: offset N: msg".
func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: offset %d: %s", e.File, e.Offset, e.Msg)
}

// Unwrap returns nearkit.ErrCorrupt, so errors.Is(err, nearkit.ErrCorrupt)
// holds for every malformed-file error.
func (e *FormatError) Unwrap() error { return nearkit.ErrCorrupt }

func formatErr(file string, off int64, format string, args ...any) error {
	return &FormatError{File: file, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// readVecs is the texmex row parser shared by the three formats: each row is
// a little-endian int32 dimension followed by dim elements of elemSize
// bytes. It calls emit with each row's raw element bytes (valid only during
// the call) and stops after limit rows when limit > 0. It returns the
// dimension (0 for an empty stream).
func readVecs(r io.Reader, name string, elemSize, limit int, emit func(row []byte)) (dim int, err error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 1<<16)
	}
	var (
		off  int64
		hdr  [4]byte
		row  []byte
		rows int
	)
	for limit <= 0 || rows < limit {
		n, err := io.ReadFull(br, hdr[:])
		if err == io.EOF {
			return dim, nil
		}
		if err == io.ErrUnexpectedEOF {
			return dim, formatErr(name, off, "truncated row header: %d of 4 bytes", n)
		}
		if err != nil {
			return dim, fmt.Errorf("%s: offset %d: %w", name, off, err)
		}
		d := int32(binary.LittleEndian.Uint32(hdr[:]))
		switch {
		case d <= 0 || d > MaxDim:
			return dim, formatErr(name, off, "row %d: dimension %d out of range 1..%d", rows, d, MaxDim)
		case dim != 0 && int(d) != dim:
			return dim, formatErr(name, off, "row %d: dimension %d differs from first row's %d", rows, d, dim)
		}
		if dim == 0 {
			dim = int(d)
			row = make([]byte, dim*elemSize)
		}
		off += 4
		n, err = io.ReadFull(br, row)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return dim, formatErr(name, off, "row %d truncated: %d of %d bytes", rows, n, len(row))
		}
		if err != nil {
			return dim, fmt.Errorf("%s: offset %d: %w", name, off, err)
		}
		emit(row)
		off += int64(len(row))
		rows++
	}
	return dim, nil
}

// ReadFvecs reads .fvecs rows (int32 dim, then dim float32, little-endian)
// from r, at most limit rows when limit > 0, and returns them contiguously
// with their dimension. name labels errors. Non-finite values are rejected,
// since no index accepts them.
func ReadFvecs(r io.Reader, name string, limit int) ([]float32, int, error) {
	return readFvecs(r, name, limit, 0)
}

// readFvecs is ReadFvecs with a capacity hint in elements, so loading a
// large file does not pass through append's doubling (which would briefly
// need 1.5× the memory).
func readFvecs(r io.Reader, name string, limit, capHint int) ([]float32, int, error) {
	out := make([]float32, 0, capHint)
	var bad error
	var off int64
	dim, err := readVecs(r, name, 4, limit, func(row []byte) {
		off += 4
		for i := 0; i+4 <= len(row); i += 4 {
			x := math.Float32frombits(binary.LittleEndian.Uint32(row[i:]))
			if bad == nil && x-x != 0 {
				bad = formatErr(name, off+int64(i), "row %d element %d is %v", len(out)/(len(row)/4), i/4, x)
			}
			out = append(out, x)
		}
		off += int64(len(row))
	})
	if err == nil {
		err = bad
	}
	return out, dim, err
}

// ReadIvecs reads .ivecs rows (int32 dim, then dim int32) from r, at most
// limit rows when limit > 0.
func ReadIvecs(r io.Reader, name string, limit int) ([]int32, int, error) {
	var out []int32
	dim, err := readVecs(r, name, 4, limit, func(row []byte) {
		for i := 0; i+4 <= len(row); i += 4 {
			out = append(out, int32(binary.LittleEndian.Uint32(row[i:])))
		}
	})
	return out, dim, err
}

// ReadBvecs reads .bvecs rows (int32 dim, then dim uint8) from r, at most
// limit rows when limit > 0, converting the bytes to float32.
func ReadBvecs(r io.Reader, name string, limit int) ([]float32, int, error) {
	return readBvecs(r, name, limit, 0)
}

func readBvecs(r io.Reader, name string, limit, capHint int) ([]float32, int, error) {
	out := make([]float32, 0, capHint)
	dim, err := readVecs(r, name, 1, limit, func(row []byte) {
		for _, b := range row {
			out = append(out, float32(b))
		}
	})
	return out, dim, err
}

// LoadVecs reads an .fvecs, .bvecs or .ivecs file (chosen by its
// extension; ivecs values are converted to float32), at most limit rows when
// limit > 0.
func LoadVecs(path string, limit int) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	switch ext(path) {
	case ".fvecs":
		return readFvecs(br, path, limit, sizeHint(f, br, 4, limit))
	case ".bvecs":
		return readBvecs(br, path, limit, sizeHint(f, br, 1, limit))
	case ".ivecs":
		iv, dim, err := ReadIvecs(br, path, limit)
		out := make([]float32, len(iv))
		for i, x := range iv {
			out[i] = float32(x)
		}
		return out, dim, err
	}
	return nil, 0, fmt.Errorf("%s: unknown vector file extension (want .fvecs, .bvecs or .ivecs)", path)
}

// sizeHint returns the number of elements a whole-file load of f will
// hold, so the output can be allocated once, or 0 when that cannot be
// trusted. It trusts the file's size only once the first row's dimension
// is valid and the size is a whole number of rows of it, so a forged or
// sparse file gets no allocation its header has not earned.
func sizeHint(f *os.File, br *bufio.Reader, elemSize, limit int) int {
	st, err := f.Stat()
	if err != nil || limit > 0 {
		return 0
	}
	hdr, err := br.Peek(4)
	if err != nil {
		return 0
	}
	d := int64(int32(binary.LittleEndian.Uint32(hdr)))
	rowBytes := 4 + d*int64(elemSize)
	if d <= 0 || d > MaxDim || st.Size()%rowBytes != 0 || st.Size() >= 1<<40 {
		return 0
	}
	return int(st.Size() / rowBytes * d)
}

// LoadIvecs reads an .ivecs file, at most limit rows when limit > 0.
func LoadIvecs(path string, limit int) ([]int32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return ReadIvecs(f, path, limit)
}

func ext(path string) string {
	for i := len(path) - 1; i >= 0 && path[i] != '/'; i-- {
		if path[i] == '.' {
			return path[i:]
		}
	}
	return ""
}

var errShape = errors.New("dataset: data length is not a whole number of rows")

// writeVecs writes rows of dim elements taken from elem (which appends the
// little-endian bytes of element i to b) behind int32 dimension headers.
func writeVecs(w io.Writer, n, dim, elemSize int, elem func(b []byte, i int) []byte) error {
	if dim <= 0 || dim > MaxDim || n%dim != 0 {
		return fmt.Errorf("%w: %d values, dim %d", errShape, n, dim)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	row := make([]byte, 0, 4+dim*elemSize)
	for start := 0; start < n; start += dim {
		row = binary.LittleEndian.AppendUint32(row[:0], uint32(dim))
		for i := start; i < start+dim; i++ {
			row = elem(row, i)
		}
		if _, err := bw.Write(row); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFvecs writes len(data)/dim rows of dim float32 values as .fvecs.
func WriteFvecs(w io.Writer, data []float32, dim int) error {
	return writeVecs(w, len(data), dim, 4, func(b []byte, i int) []byte {
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(data[i]))
	})
}

// WriteIvecs writes len(data)/dim rows of dim int32 values as .ivecs.
func WriteIvecs(w io.Writer, data []int32, dim int) error {
	return writeVecs(w, len(data), dim, 4, func(b []byte, i int) []byte {
		return binary.LittleEndian.AppendUint32(b, uint32(data[i]))
	})
}

// WriteBvecs writes len(data)/dim rows of dim bytes as .bvecs.
func WriteBvecs(w io.Writer, data []uint8, dim int) error {
	return writeVecs(w, len(data), dim, 1, func(b []byte, i int) []byte {
		return append(b, data[i])
	})
}

// writerFunc adapts a write function to io.WriterTo for nearkit.SaveFile.
type writerFunc func(io.Writer) error

func (f writerFunc) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	err := f(cw)
	return cw.n, err
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// SaveIvecs writes data as an .ivecs file crash-safely (temporary file,
// fsync, rename), so a cache file is either complete or absent.
func SaveIvecs(path string, data []int32, dim int) error {
	return nearkit.SaveFile(path, writerFunc(func(w io.Writer) error { return WriteIvecs(w, data, dim) }))
}

// SaveFvecs writes data as an .fvecs file crash-safely.
func SaveFvecs(path string, data []float32, dim int) error {
	return nearkit.SaveFile(path, writerFunc(func(w io.Writer) error { return WriteFvecs(w, data, dim) }))
}
