package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nearkit/nearkit/benchmarks/dataset"
)

// writeIDX writes a gzipped IDX file of unsigned bytes with the given
// dimensions.
func writeIDX(t *testing.T, path string, data []byte, dims ...uint32) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte{0, 0, 8, byte(len(dims))})
	for _, d := range dims {
		binary.Write(zw, binary.BigEndian, d)
	}
	zw.Write(data)
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeFashion writes a tiny Fashion-MNIST look-alike: image i of class
// i%10 is a bar whose position encodes the class, plus a little noise.
func fakeFashion(t *testing.T) string {
	dir := t.TempDir()
	for _, s := range []struct {
		prefix string
		n      int
	}{{"train", 300}, {"t10k", 20}} {
		imgs, labels := make([]byte, s.n*784), make([]byte, s.n)
		for i := range s.n {
			labels[i] = byte(i % 10)
			for p := range 784 {
				if (p%28)/3 == i%10 {
					imgs[i*784+p] = 200
				}
				imgs[i*784+p] += byte((i*31 + p*7) % 13)
			}
		}
		writeIDX(t, filepath.Join(dir, s.prefix+"-images-idx3-ubyte.gz"), imgs, uint32(s.n), 28, 28)
		writeIDX(t, filepath.Join(dir, s.prefix+"-labels-idx1-ubyte.gz"), labels, uint32(s.n))
	}
	return dir
}

// TestFashion runs the program on the real data set when it is installed
// (a 2,000-image index) and on a generated look-alike always, and checks
// the PNG and the report.
func TestFashion(t *testing.T) {
	dirs := map[string]string{"fake": fakeFashion(t)}
	if _, err := os.Stat(filepath.Join(dataset.FashionMNISTDir, "train-images-idx3-ubyte.gz")); err == nil && !testing.Short() {
		dirs["real"] = dataset.FashionMNISTDir
	}
	for name, dir := range dirs {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "grid.png")
			var stdout bytes.Buffer
			if err := run([]string{"-dir", dir, "-n", "2000", "-queries", "3", "-out", out}, &stdout); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() < 11*84 || b.Dy() < 3*84 {
				t.Errorf("grid is %v", b)
			}
			if s := stdout.String(); strings.Count(s, "query ") != 3 || !strings.Contains(s, "share their query's class") {
				t.Errorf("report:\n%s", s)
			}
			if name == "fake" && !strings.Contains(stdout.String(), "30 of 30 neighbours") {
				t.Errorf("the look-alike's classes are separable, yet:\n%s", stdout.String())
			}
		})
	}
}

func TestFashionMissing(t *testing.T) {
	err := run([]string{"-dir", t.TempDir()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "apt-get install dataset-fashion-mnist") {
		t.Errorf("err = %v, want the hint to install the data set", err)
	}
}
