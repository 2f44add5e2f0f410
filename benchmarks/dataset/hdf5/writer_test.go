package hdf5

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func sampleWriter(t *testing.T) *Writer {
	var w Writer
	w.AttrString("algo", "nearkit-hnsw")
	w.AttrString("distance", "euclidean")
	w.AttrInt("count", 3)
	w.AttrFloat("build_time", 1.25)
	if err := w.Float32s("times", []int{2}, []float32{0.5, 0.25}); err != nil {
		t.Fatal(err)
	}
	if err := w.Int32s("neighbors", []int{2, 3}, []int32{1, 2, 3, -4, 5, 6}); err != nil {
		t.Fatal(err)
	}
	if err := w.Float32s("distances", []int{2, 3}, []float32{0, 1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	if err := w.Int32s("neighbors", []int{1}, []int32{1}); err == nil {
		t.Error("a second dataset named neighbors was accepted")
	}
	if err := w.Int32s("x", []int{2, 2}, []int32{1}); err == nil {
		t.Error("a shape that does not match the data was accepted")
	}
	return &w
}

func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if _, err := sampleWriter(t).WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := NewFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]any{"algo": "nearkit-hnsw", "distance": "euclidean", "count": int64(3), "build_time": 1.25} {
		if v, err := f.Attr(name); err != nil || v != want {
			t.Errorf("attribute %s = %v, %v; want %v", name, v, err, want)
		}
	}
	d, err := f.Dataset("neighbors")
	if err != nil {
		t.Fatal(err)
	}
	nb, err := d.Int32s()
	if err != nil || !slices.Equal(nb, []int32{1, 2, 3, -4, 5, 6}) || !slices.Equal(d.Shape(), []int{2, 3}) {
		t.Errorf("neighbors %v %v, %v", d.Shape(), nb, err)
	}
	d, err = f.Dataset("times")
	if err != nil {
		t.Fatal(err)
	}
	if ts, err := d.Float32s(); err != nil || !slices.Equal(ts, []float32{0.5, 0.25}) {
		t.Errorf("times %v, %v", ts, err)
	}
}

// TestWriterH5py checks that h5py (the reader of ann-benchmarks' plotting
// scripts) reads what Writer writes, when Debian's python3-h5py is there.
func TestWriterH5py(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import h5py").Run() != nil {
		t.Skip("python3-h5py not installed")
	}
	path := filepath.Join(t.TempDir(), "r.hdf5")
	fd, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sampleWriter(t).WriteTo(fd); err != nil {
		t.Fatal(err)
	}
	fd.Close()
	script := `import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = dict(f.attrs)
print(a["algo"], a["distance"], int(a["count"]), float(a["build_time"]), isinstance(a["algo"], str))
print(f["neighbors"][1].tolist(), f["times"][:].tolist(), f["distances"][0].tolist(), sorted(f.keys()))`
	got, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("h5py: %v\n%s", err, got)
	}
	want := "nearkit-hnsw euclidean 3 1.25 True\n[-4, 5, 6] [0.5, 0.25] [0.0, 1.0, 2.0] ['distances', 'neighbors', 'times']\n"
	if string(got) != want {
		t.Errorf("h5py printed\n%s\nwant\n%s", got, want)
	}
}
