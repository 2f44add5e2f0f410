package hdf5

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
)

// The files in testdata were written by h5py with testdata/gen.py; their
// values are computable from indices, as here.
const n, nq, dim, k = 20, 5, 6, 3

func want() (train, test []float32, neighbors []int32, distances []float32) {
	for i := range n * dim {
		train = append(train, float32(float64(i)*0.5-7))
	}
	for i := range nq * dim {
		test = append(test, float32(float64(i)*-0.25+3))
	}
	for i := range nq * k {
		neighbors = append(neighbors, int32(i*7%n))
		distances = append(distances, float32(float64(i)*1.5))
	}
	return
}

// readable lists the files in every layout the reader supports.
var readable = []string{
	"contiguous", "contiguous_latest", "float64_int64", "bigendian",
	"chunked", "chunked_latest", "int64_latest",
	"gzip_shuffle", "gzip_latest", "single_chunk_gzip_latest", "fletcher32",
	"extensible", // resizable, but libver earliest keeps the v1 B-tree index
}

func TestReadLayouts(t *testing.T) {
	wTrain, wTest, wNb, wDist := want()
	for _, name := range readable {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("testdata", name+".hdf5"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if s, err := f.AttrString("distance"); err != nil || s != "euclidean" {
				t.Errorf("distance attribute = %q, %v", s, err)
			}
			if v, err := f.Attr("dimension"); err != nil || v != int64(dim) {
				t.Errorf("dimension attribute = %v (%T), %v", v, v, err)
			}
			for _, c := range []struct {
				name  string
				shape []int
				want  []float32
			}{{"train", []int{n, dim}, wTrain}, {"test", []int{nq, dim}, wTest}, {"distances", []int{nq, k}, wDist}} {
				d, err := f.Dataset(c.name)
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if !slices.Equal(d.Shape(), c.shape) {
					t.Errorf("%s shape %v, want %v", c.name, d.Shape(), c.shape)
				}
				got, err := d.Float32s()
				if err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				if !slices.Equal(got, c.want) {
					t.Errorf("%s = %v\nwant %v", c.name, got, c.want)
				}
			}
			d, err := f.Dataset("neighbors")
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Int32s()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, wNb) {
				t.Errorf("neighbors = %v, want %v", got, wNb)
			}
		})
	}
}

func TestUnsupportedNamed(t *testing.T) {
	for name, feature := range map[string]string{
		"lzf":               "lzf",
		"extensible_latest": "B-tree chunk index",
	} {
		f, err := Open(filepath.Join("testdata", name+".hdf5"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Dataset("train")
		f.Close()
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), feature) {
			t.Errorf("%s: err = %v, want ErrUnsupported naming %q", name, err, feature)
		}
	}
}

func TestMissing(t *testing.T) {
	f, err := Open("testdata/contiguous.hdf5")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Dataset("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Dataset(nope) = %v, want fs.ErrNotExist", err)
	}
	if _, err := f.Attr("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Attr(nope) = %v, want fs.ErrNotExist", err)
	}
	if _, err := f.Dataset("train"); err != nil {
		t.Fatal(err)
	}
	d, _ := f.Dataset("train")
	if _, err := d.Int32s(); err == nil {
		t.Error("Int32s of a float dataset succeeded")
	}
}

// readAll opens b and reads everything an ann-benchmarks loader reads.
func readAll(b []byte) error {
	f, err := NewFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	_, err = f.Attr("distance")
	keep(err)
	for _, name := range []string{"train", "test", "distances", "neighbors"} {
		d, err := f.Dataset(name)
		if err != nil {
			keep(err)
			continue
		}
		if d.Class() == Integer {
			_, err = d.Int32s()
		} else {
			_, err = d.Float32s()
		}
		keep(err)
	}
	return first
}

// TestTruncatedAndFlipped checks that every prefix of a file, and the file
// with any one byte changed, gives an error or the data, never a panic.
func TestTruncatedAndFlipped(t *testing.T) {
	for _, name := range []string{"contiguous", "chunked_latest", "gzip_shuffle"} {
		b, err := os.ReadFile(filepath.Join("testdata", name+".hdf5"))
		if err != nil {
			t.Fatal(err)
		}
		step := 3
		if testing.Short() {
			step = 29
		}
		for i := 0; i < len(b); i += step {
			if err := readAll(b[:i]); err == nil {
				t.Fatalf("%s truncated to %d bytes: no error", name, i)
			} else if !errors.Is(err, nearkit.ErrCorrupt) && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s truncated to %d bytes: %v is neither corrupt nor unsupported", name, i, err)
			}
			c := slices.Clone(b)
			c[i] ^= 0xff
			readAll(c)
		}
	}
}

func FuzzRead(f *testing.F) {
	for _, name := range append(readable, "lzf", "extensible_latest") {
		b, err := os.ReadFile(filepath.Join("testdata", name+".hdf5"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		readAll(b)
	})
}
