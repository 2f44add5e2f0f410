package binfmt

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nearkit/nearkit"
)

func encode(t testing.TB) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf, "NKTEST", 2)
	w.U8(7)
	w.U32(0xdeadbeef)
	w.U64(1 << 40)
	w.F32(1.5)
	w.F64(-2.25)
	w.U64(3)
	w.Float32s([]float32{1, 2, 3})
	w.Uint32s([]uint32{4, 5})
	w.Uint64s([]uint64{6})
	w.Bytes([]byte("xy"))
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode(data []byte) error {
	r, err := NewReader(bytes.NewReader(data), "NKTEST", 2)
	if err != nil {
		return err
	}
	if r.U8() != 7 || r.U32() != 0xdeadbeef || r.U64() != 1<<40 || r.F32() != 1.5 || r.F64() != -2.25 {
		if r.Err() != nil {
			return r.Err()
		}
		return errors.New("scalar mismatch")
	}
	n := r.Count("n", 10)
	f := r.Float32s(n)
	u := r.Uint32s(2)
	v := r.Uint64s(1)
	b := r.Bytes(2)
	if err := r.Finish(); err != nil {
		return err
	}
	if len(f) != 3 || f[2] != 3 || u[1] != 5 || v[0] != 6 || string(b) != "xy" {
		return errors.New("slice mismatch")
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	if err := decode(encode(t)); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedAndFlipped(t *testing.T) {
	data := encode(t)
	for n := range len(data) {
		if err := decode(data[:n]); !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, nearkit.ErrIncompatible) {
			t.Fatalf("truncated to %d: got %v", n, err)
		}
	}
	for i := range data {
		bad := bytes.Clone(data)
		bad[i] ^= 0x10
		if err := decode(bad); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
}

func TestVersionAndMagic(t *testing.T) {
	data := encode(t)
	if _, err := NewReader(bytes.NewReader(data), "NKTEST", 1); !errors.Is(err, nearkit.ErrIncompatible) {
		t.Fatalf("newer version: %v", err)
	}
	if _, err := NewReader(bytes.NewReader(data), "OTHER", 2); !errors.Is(err, nearkit.ErrIncompatible) {
		t.Fatalf("wrong magic: %v", err)
	}
}

func TestCountLimit(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "NKTEST", 1)
	w.U64(1 << 60)
	w.Finish()
	r, err := NewReader(bytes.NewReader(buf.Bytes()), "NKTEST", 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Count("n", 1000) != 0 || !errors.Is(r.Err(), nearkit.ErrCorrupt) {
		t.Fatalf("limit not enforced: %v", r.Err())
	}
}

func FuzzReader(f *testing.F) {
	f.Add(encode(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = decode(data) // must not panic
	})
}

// Section sums cover consecutive byte ranges, the magic and version in
// the first, and match between writer, reader and Checksum.
func TestSections(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, "NKTEST", 1)
	w.U64(42)
	s0 := w.Section()
	w.Bytes([]byte("section one"))
	s1 := w.Section()
	s2 := w.Section()
	if _, err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if s0 != Checksum(b[:20]) || s1 != Checksum(b[20:31]) || s2 != Checksum(nil) {
		t.Fatalf("writer sections %08x %08x %08x do not match the bytes", s0, s1, s2)
	}
	r, err := NewReader(bytes.NewReader(b), "NKTEST", 1)
	if err != nil {
		t.Fatal(err)
	}
	r.U64()
	if got := r.Section(); got != s0 {
		t.Fatalf("reader section 0 = %08x, want %08x", got, s0)
	}
	r.Bytes(11)
	if got := r.Section(); got != s1 {
		t.Fatalf("reader section 1 = %08x, want %08x", got, s1)
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
}
