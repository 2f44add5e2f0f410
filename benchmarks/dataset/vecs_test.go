package dataset

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
)

func TestFvecsRoundTrip(t *testing.T) {
	for _, dim := range []int{1, 3, 128} {
		data := make([]float32, 5*dim)
		for i := range data {
			data[i] = float32(i)*0.25 - 7
		}
		data[0] = float32(math.Copysign(0, -1)) // sign of zero must survive
		var buf bytes.Buffer
		if err := WriteFvecs(&buf, data, dim); err != nil {
			t.Fatal(err)
		}
		if want := 5 * (4 + 4*dim); buf.Len() != want {
			t.Fatalf("dim %d: %d bytes, want %d", dim, buf.Len(), want)
		}
		got, gd, err := ReadFvecs(bytes.NewReader(buf.Bytes()), "x.fvecs", 0)
		if err != nil || gd != dim {
			t.Fatalf("dim %d: ReadFvecs: dim %d, %v", dim, gd, err)
		}
		for i := range data {
			if math.Float32bits(got[i]) != math.Float32bits(data[i]) {
				t.Fatalf("dim %d: element %d: %v, want %v", dim, i, got[i], data[i])
			}
		}
		// limit stops after whole rows.
		got, _, err = ReadFvecs(bytes.NewReader(buf.Bytes()), "x.fvecs", 2)
		if err != nil || !slices.Equal(got, data[:2*dim]) {
			t.Fatalf("dim %d: limit 2: %d values, %v", dim, len(got), err)
		}
	}
}

func TestIvecsBvecsRoundTrip(t *testing.T) {
	ints := []int32{1, -2, 3, math.MaxInt32, math.MinInt32, 0}
	var buf bytes.Buffer
	if err := WriteIvecs(&buf, ints, 3); err != nil {
		t.Fatal(err)
	}
	got, dim, err := ReadIvecs(&buf, "x.ivecs", 0)
	if err != nil || dim != 3 || !slices.Equal(got, ints) {
		t.Fatalf("ivecs: %v dim %d: %v", got, dim, err)
	}

	bs := []uint8{0, 1, 255, 128, 7, 9, 10, 11}
	buf.Reset()
	if err := WriteBvecs(&buf, bs, 4); err != nil {
		t.Fatal(err)
	}
	fs, dim, err := ReadBvecs(&buf, "x.bvecs", 0)
	if err != nil || dim != 4 || len(fs) != len(bs) {
		t.Fatalf("bvecs: %v dim %d: %v", fs, dim, err)
	}
	for i := range bs {
		if fs[i] != float32(bs[i]) {
			t.Fatalf("bvecs element %d: %v, want %d", i, fs[i], bs[i])
		}
	}
}

func TestWriteRejectsBadShape(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFvecs(&buf, make([]float32, 5), 2); err == nil {
		t.Error("5 values of dim 2 accepted")
	}
	if err := WriteIvecs(&buf, make([]int32, 4), 0); err == nil {
		t.Error("dim 0 accepted")
	}
}

func TestEmptyStream(t *testing.T) {
	got, dim, err := ReadFvecs(bytes.NewReader(nil), "empty", 0)
	if err != nil || dim != 0 || len(got) != 0 {
		t.Fatalf("empty: %v dim %d: %v", got, dim, err)
	}
}

func le32(v int32) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

func row(dim int32, vals ...float32) []byte {
	b := le32(dim)
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestMalformedFvecs(t *testing.T) {
	good := append(row(2, 1, 2), row(2, 3, 4)...)
	cases := []struct {
		name   string
		data   []byte
		offset int64
		msg    string
	}{
		{"truncated header", append(slices.Clone(good), 2, 0), 24, "truncated row header"},
		{"truncated row", append(slices.Clone(good), row(2, 5)...), 28, "row 2 truncated"},
		{"zero dim", append(slices.Clone(good), le32(0)...), 24, "dimension 0"},
		{"negative dim", le32(-3), 0, "dimension -3"},
		{"huge dim", le32(MaxDim + 1), 0, "out of range"},
		{"inconsistent dim", append(slices.Clone(good), row(3, 1, 2, 3)...), 24, "differs from first row's 2"},
		{"NaN", append(slices.Clone(good), row(2, 1, float32(math.NaN()))...), 32, "row 2 element 1"},
		{"Inf", row(2, float32(math.Inf(1)), 0), 4, "row 0 element 0"},
	}
	for _, c := range cases {
		_, _, err := ReadFvecs(bytes.NewReader(c.data), "bad.fvecs", 0)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: error %v is not a *FormatError", c.name, err)
			continue
		}
		if !errors.Is(err, nearkit.ErrCorrupt) {
			t.Errorf("%s: error does not wrap ErrCorrupt", c.name)
		}
		if fe.File != "bad.fvecs" || fe.Offset != c.offset || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %q (offset %d), want offset %d and %q", c.name, err, fe.Offset, c.offset, c.msg)
		}
		if !strings.HasPrefix(err.Error(), "bad.fvecs: offset ") {
			t.Errorf("%s: message %q does not start with file and offset", c.name, err)
		}
	}
}

func TestMalformedBvecsIvecs(t *testing.T) {
	// A bvecs row of dim 4 holds 4 bytes: 3 present means truncation.
	_, _, err := ReadBvecs(bytes.NewReader(append(le32(4), 1, 2, 3)), "b", 0)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Offset != 4 {
		t.Errorf("bvecs truncated: %v", err)
	}
	_, _, err = ReadIvecs(bytes.NewReader(append(append(le32(1), le32(5)...), le32(1)...)), "i", 0)
	if !errors.As(err, &fe) || fe.Offset != 12 {
		t.Errorf("ivecs truncated second row: %v", err)
	}
}

func TestLoadVecsFile(t *testing.T) {
	dir := t.TempDir()
	data := []float32{1, 2, 3, 4, 5, 6}
	p := filepath.Join(dir, "a.fvecs")
	if err := SaveFvecs(p, data, 3); err != nil {
		t.Fatal(err)
	}
	got, dim, err := LoadVecs(p, 0)
	if err != nil || dim != 3 || !slices.Equal(got, data) {
		t.Fatalf("LoadVecs: %v %d %v", got, dim, err)
	}
	ip := filepath.Join(dir, "a.ivecs")
	if err := SaveIvecs(ip, []int32{7, 8}, 1); err != nil {
		t.Fatal(err)
	}
	got, dim, err = LoadVecs(ip, 0)
	if err != nil || dim != 1 || !slices.Equal(got, []float32{7, 8}) {
		t.Fatalf("LoadVecs ivecs: %v %d %v", got, dim, err)
	}
	if _, _, err := LoadVecs(filepath.Join(dir, "a.txt"), 0); err == nil {
		t.Error("unknown extension accepted")
	}
	// A file truncated on disk names the path.
	raw, _ := os.ReadFile(p)
	os.WriteFile(p, raw[:len(raw)-1], 0o644)
	if _, _, err := LoadVecs(p, 0); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("truncated file: %v", err)
	}
}

// The fuzz targets check that the readers never panic and that whatever
// they accept re-encodes to exactly the bytes read.
func FuzzReadFvecs(f *testing.F) {
	f.Add(row(2, 1, 2))
	f.Add(append(row(1, 3), row(1, 4)...))
	f.Add(le32(-1))
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		data, dim, err := ReadFvecs(bytes.NewReader(b), "fuzz", 0)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if len(b) == 0 {
			return
		}
		var out bytes.Buffer
		if err := WriteFvecs(&out, data, dim); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzReadIvecs(f *testing.F) {
	f.Add(append(le32(2), append(le32(5), le32(6)...)...))
	f.Add(le32(0))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, dim, err := ReadIvecs(bytes.NewReader(b), "fuzz", 0)
		if err != nil || len(b) == 0 {
			return
		}
		var out bytes.Buffer
		if err := WriteIvecs(&out, data, dim); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("round trip differs")
		}
	})
}

func FuzzReadBvecs(f *testing.F) {
	f.Add(append(le32(3), 1, 2, 3))
	f.Add(append(le32(2), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		data, dim, err := ReadBvecs(bytes.NewReader(b), "fuzz", 0)
		if err != nil || len(b) == 0 {
			return
		}
		bs := make([]uint8, len(data))
		for i, v := range data {
			if v != float32(uint8(v)) {
				t.Fatalf("value %v is not a byte", v)
			}
			bs[i] = uint8(v)
		}
		var out bytes.Buffer
		if err := WriteBvecs(&out, bs, dim); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("round trip differs")
		}
	})
}
