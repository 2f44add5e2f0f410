// Package hdf5 reads the subset of HDF5 that ann-benchmarks data files use,
// in pure Go: superblocks version 0 to 3, version 1 and 2 object headers
// (with continuation blocks), groups kept in a symbol table or in compact
// link messages, and n-dimensional datasets of little- or big-endian
// float32, float64 and 8- to 64-bit integers stored compact, contiguous or
// chunked (v1 B-tree, single-chunk, implicit or fixed-array chunk index),
// through the deflate, shuffle and Fletcher-32 filters, plus attributes
// holding numbers or fixed- or variable-length strings.
//
//	f, err := hdf5.Open("glove-25-angular.hdf5")
//	defer f.Close()
//	metric, err := f.AttrString("distance")     // "angular"
//	train, err := f.Dataset("train")            // train.Shape() == [1183514 25]
//	vecs, err := train.Float32s()
//
// A feature outside that subset (extensible-array and v2 B-tree chunk
// indexes of resizable datasets, dense link or attribute storage, shared
// messages, other filters such as LZF or szip, compound types) is refused
// with an error that names it and wraps errors.ErrUnsupported; a malformed
// or truncated file gives an *Error that wraps nearkit.ErrCorrupt. The
// reader allocates nothing in proportion to a number read from the file
// before checking that number against the file's size, so a forged header
// cannot make it allocate more than a small multiple of the file (for
// deflated chunks, of what deflate can expand the stored bytes to).
//
// A File is safe for concurrent use by multiple goroutines: it holds no
// state beyond what Open parsed, and reads through io.ReaderAt.
package hdf5

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nearkit/nearkit"
)

// Error reports a malformed file: the byte offset where the problem was
// found and what is wrong. It wraps nearkit.ErrCorrupt.
type Error struct {
	Offset int64
	Msg    string
}

// Error returns "hdf5: offset N: msg".
func (e *Error) Error() string { return fmt.Sprintf("hdf5: offset %d: %s", e.Offset, e.Msg) }

// Unwrap returns nearkit.ErrCorrupt.
func (e *Error) Unwrap() error { return nearkit.ErrCorrupt }

func corrupt(off uint64, format string, args ...any) error {
	return &Error{Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("hdf5: %s: %w", fmt.Sprintf(format, args...), errors.ErrUnsupported)
}

// undef is HDF5's "undefined address" (all bits set, at any width).
const undef = ^uint64(0)

// File is an open HDF5 file.
type File struct {
	r       io.ReaderAt
	closer  io.Closer
	size    uint64
	base    uint64 // superblock base address, added to every address
	offSize int    // bytes per address
	lenSize int    // bytes per length
	root    uint64 // root group's object header address
}

// Open opens the named file.
func Open(name string) (*File, error) {
	fd, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, err
	}
	f, err := NewFile(fd, st.Size())
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f.closer = fd
	return f, nil
}

// NewFile reads an HDF5 file of size bytes from r. Close does not close r.
func NewFile(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, corrupt(0, "negative size")
	}
	f := &File{r: r, size: uint64(size)}
	if err := f.readSuperblock(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close closes the file opened by Open.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

var signature = []byte("\x89HDF\r\n\x1a\n")

// readSuperblock finds the signature (at 0, 512, 1024, … as the format
// allows a user block before it) and parses the superblock.
func (f *File) readSuperblock() error {
	var at uint64
	for at = 0; ; at = max(512, at*2) {
		if at+8 > f.size {
			return corrupt(0, "no HDF5 signature")
		}
		b, err := f.read(at, 8)
		if err != nil {
			return err
		}
		if string(b) == string(signature) {
			break
		}
	}
	head, err := f.read(at+8, min(f.size-at-8, 128))
	if err != nil {
		return err
	}
	c := &cursor{b: head, at: at + 8}
	version := c.u8()
	var eof uint64
	switch version {
	case 0, 1:
		c.skip(3) // free-space, root symbol table and shared header versions
		c.skip(1)
		f.offSize, f.lenSize = int(c.u8()), int(c.u8())
		c.skip(1 + 2 + 2 + 4) // reserved, group leaf/internal K, flags
		if version == 1 {
			c.skip(4) // indexed storage K, reserved
		}
		if !f.sizesValid() {
			return corrupt(at, "address/length sizes %d/%d", f.offSize, f.lenSize)
		}
		f.base = c.uint(f.offSize)
		c.skip(f.offSize) // free space
		eof = c.uint(f.offSize)
		c.skip(f.offSize) // driver info
		// Root group symbol table entry: name offset, object header address.
		c.skip(f.offSize)
		f.root = c.uint(f.offSize)
	case 2, 3:
		f.offSize, f.lenSize = int(c.u8()), int(c.u8())
		c.skip(1) // flags
		if !f.sizesValid() {
			return corrupt(at, "address/length sizes %d/%d", f.offSize, f.lenSize)
		}
		f.base = c.uint(f.offSize)
		c.skip(f.offSize) // superblock extension
		eof = c.uint(f.offSize)
		f.root = c.uint(f.offSize)
	default:
		return unsupported("superblock version %d", version)
	}
	if c.err != nil {
		return c.err
	}
	if f.base != at && f.base != 0 {
		return corrupt(at, "base address %d", f.base)
	}
	f.base = at
	if eof == undef || eof > f.size-at {
		return corrupt(at, "truncated: the superblock ends the file at %d, it has %d bytes", eof, f.size-at)
	}
	return nil
}

func (f *File) sizesValid() bool {
	ok := func(n int) bool { return n == 2 || n == 4 || n == 8 }
	return ok(f.offSize) && ok(f.lenSize)
}

// read returns n bytes at file address addr (relative to the base),
// refusing any range outside the file before allocating.
func (f *File) read(addr, n uint64) ([]byte, error) {
	if addr == undef {
		return nil, corrupt(addr, "read at undefined address")
	}
	a := addr + f.base
	if a < addr || a > f.size || n > f.size-a {
		return nil, corrupt(addr, "%d bytes at %d run past the end of the %d-byte file", n, addr, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(a)); err != nil && !(err == io.EOF && n == 0) {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, corrupt(addr, "file shorter than its size")
		}
		return nil, err
	}
	return b, nil
}

// readUpTo reads at most n bytes at addr, fewer when the file ends first:
// structures of unknown length are read this way and parsed with a cursor.
func (f *File) readUpTo(addr, n uint64) ([]byte, error) {
	if addr == undef || addr+f.base > f.size || addr+f.base < addr {
		return nil, corrupt(addr, "address %d outside the %d-byte file", addr, f.size)
	}
	return f.read(addr, min(n, f.size-addr-f.base))
}

// cursor parses little-endian fields from a byte slice. The first overrun
// sets err and every later read returns zero, so a parser checks err once.
type cursor struct {
	b   []byte
	pos int
	at  uint64 // file address of b[0], for error messages
	err error
}

func (c *cursor) take(n int) []byte {
	if c.err != nil {
		return nil
	}
	if n < 0 || n > len(c.b)-c.pos {
		c.err = corrupt(c.at+uint64(c.pos), "structure truncated: need %d bytes, %d left", n, len(c.b)-c.pos)
		return nil
	}
	p := c.b[c.pos : c.pos+n]
	c.pos += n
	return p
}

func (c *cursor) skip(n int) { c.take(n) }
func (c *cursor) left() int  { return len(c.b) - c.pos }
func (c *cursor) addr() uint64 {
	return c.at + uint64(c.pos)
}

func (c *cursor) u8() uint8 {
	if p := c.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (c *cursor) u16() uint16 {
	if p := c.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (c *cursor) u32() uint32 {
	if p := c.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

// uint reads an n-byte little-endian unsigned integer (n ≤ 8); an
// all-ones value of any width becomes undef.
func (c *cursor) uint(n int) uint64 {
	p := c.take(n)
	if p == nil {
		return 0
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(p[i])
	}
	if n < 8 && v == 1<<(8*n)-1 {
		return undef
	}
	return v
}

func (c *cursor) sig(s string) bool {
	p := c.take(len(s))
	if p != nil && string(p) != s {
		c.err = corrupt(c.at+uint64(c.pos-len(s)), "signature %q, want %q", p, s)
	}
	return c.err == nil
}
