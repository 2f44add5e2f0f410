package dataset

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit/internal/attack"
)

// TestReadIDXGzipTrailer: a .gz whose CRC or length trailer is damaged, or
// which is cut before its trailer, is refused, not loaded with what the
// deflate data decoded to.
func TestReadIDXGzipTrailer(t *testing.T) {
	pix := make([]byte, 3*4*4)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	gz := gzipBytes(t, idxBytes([]uint32{3, 4, 4}, pix))
	if _, _, _, err := ReadIDX(bytes.NewReader(gz), "ok"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"crc", flip(gz, len(gz)-8)},
		{"length", flip(gz, len(gz)-2)},
		{"no trailer", gz[:len(gz)-8]},
	} {
		if _, _, _, err := ReadIDX(bytes.NewReader(tc.b), tc.name); err == nil {
			t.Fatalf("%s: damaged gzip trailer accepted", tc.name)
		}
	}
	// Every truncation, and every bit flip past the 10-byte gzip header
	// (whose time and OS fields no checksum covers), is refused too.
	read := func(r io.Reader) error { _, _, _, err := ReadIDX(r, "x"); return err }
	b := attack.Budget{PerByte: 1 << 10, Fixed: 1 << 20}
	for off := range len(gz) {
		attack.Check(t, "truncated", attack.Run(read, gz[:off]), b, true)
		if off >= 10 {
			for bit := range 8 {
				c := bytes.Clone(gz)
				c[off] ^= 1 << bit
				res := attack.Run(read, c)
				attack.Check(t, "flipped", res, b, false)
				if res.Err == nil {
					// Only a flip in bits the decoder ignores (the
					// padding after the last deflate block) may pass,
					// and then with the very same pixels.
					got, _, _, _ := ReadIDX(bytes.NewReader(c), "x")
					for i, v := range got {
						if v != float32(pix[i]) {
							t.Fatalf("bit %d of byte %d flipped: pixel %d loads as %v", bit, off, i, v)
						}
					}
				}
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x10
	return c
}

// TestLoadVecsSparseFile: a large sparse or forged file gets no buffer
// sized by its length before its rows validate.
func TestLoadVecsSparseFile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		head []byte
	}{
		{"zeros.fvecs", nil},
		{"baddim.fvecs", binary.LittleEndian.AppendUint32(nil, 1<<31)},
		{"oddsize.bvecs", binary.LittleEndian.AppendUint32(nil, 3)},
	} {
		p := filepath.Join(dir, tc.name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(tc.head)
		if err := f.Truncate(1<<32 + 1); err != nil { // sparse: costs no disk
			t.Skip(err)
		}
		f.Close()
		res := attack.Run(func(io.Reader) error { _, _, err := LoadVecs(p, 0); return err }, nil)
		if res.Err == nil || res.Allocated > 64<<20 {
			t.Fatalf("%s: err %v, allocated %d bytes", tc.name, res.Err, res.Allocated)
		}
	}
}
