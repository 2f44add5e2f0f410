package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit"
)

// idxBytes encodes an unsigned-byte IDX file with the given sizes.
func idxBytes(sizes []uint32, data []byte) []byte {
	b := []byte{0, 0, 0x08, byte(len(sizes))}
	for _, s := range sizes {
		b = binary.BigEndian.AppendUint32(b, s)
	}
	return append(b, data...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIDX(t *testing.T) {
	pix := make([]byte, 3*2*2)
	for i := range pix {
		pix[i] = byte(i * 20)
	}
	raw := idxBytes([]uint32{3, 2, 2}, pix)
	for name, b := range map[string][]byte{"raw": raw, "gzip": gzipBytes(t, raw)} {
		data, n, dim, err := ReadIDX(bytes.NewReader(b), name)
		if err != nil || n != 3 || dim != 4 || len(data) != 12 {
			t.Fatalf("%s: n=%d dim=%d len=%d: %v", name, n, dim, len(data), err)
		}
		for i, p := range pix {
			if data[i] != float32(p) {
				t.Fatalf("%s: pixel %d = %v, want %d", name, i, data[i], p)
			}
		}
	}
	// A 1-d file (labels) has one value per item.
	_, n, dim, err := ReadIDX(bytes.NewReader(idxBytes([]uint32{4}, []byte{1, 2, 3, 4})), "labels")
	if err != nil || n != 4 || dim != 1 {
		t.Fatalf("labels: n=%d dim=%d %v", n, dim, err)
	}
}

func TestReadIDXMalformed(t *testing.T) {
	good := idxBytes([]uint32{2, 2, 2}, make([]byte, 8))
	cases := map[string]struct {
		b      []byte
		offset int64
	}{
		"bad magic":         {append([]byte{1, 0}, good[2:]...), 0},
		"float type":        {append([]byte{0, 0, 0x0d}, good[3:]...), 2},
		"zero dims":         {[]byte{0, 0, 8, 0}, 3},
		"short header":      {good[:10], 8},
		"truncated data":    {good[:len(good)-3], 16 + 4 + 1},
		"zero item size":    {idxBytes([]uint32{2, 0, 2}, nil), 8},
		"huge item size":    {idxBytes([]uint32{1, 1 << 12, 1 << 12}, nil), 12},
		"truncated gzip":    {gzipBytes(t, good)[:20], -1},
		"empty":             {nil, 0},
		"forged n, no data": {idxBytes([]uint32{1 << 30, 28, 28}, nil), 16},
	}
	for name, c := range cases {
		_, _, _, err := ReadIDX(bytes.NewReader(c.b), "bad.idx")
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, nearkit.ErrCorrupt) {
			t.Errorf("%s: %v is not a FormatError wrapping ErrCorrupt", name, err)
			continue
		}
		if c.offset >= 0 && fe.Offset != c.offset {
			t.Errorf("%s: offset %d, want %d (%v)", name, fe.Offset, c.offset, err)
		}
	}
}

func TestFashionMNISTFiles(t *testing.T) {
	p := filepath.Join(FashionMNISTDir, "t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(p); err != nil || testing.Short() {
		t.Skip("Fashion-MNIST not installed, or -short")
	}
	data, n, dim, err := LoadIDX(p)
	if err != nil || n != 10000 || dim != 784 || len(data) != n*dim {
		t.Fatalf("n=%d dim=%d: %v", n, dim, err)
	}
	mx := float32(0)
	for _, v := range data {
		mx = max(mx, v)
	}
	if mx != 255 {
		t.Errorf("max pixel %v, want 255", mx)
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes([]uint32{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(idxBytes([]uint32{1}, []byte{9}))
	f.Add(gzipBytes(f, idxBytes([]uint32{1, 1}, []byte{9})))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, n, dim, err := ReadIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			return
		}
		if len(data) != n*dim {
			t.Fatalf("%d values for %d×%d", len(data), n, dim)
		}
	})
}
