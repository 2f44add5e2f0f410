package dataset

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

func TestLoadSynthetic(t *testing.T) {
	cache := t.TempDir()
	ds, err := Load("synthetic", Options{Metric: distance.Cosine, Queries: 7, CacheDir: cache,
		Synthetic: SyntheticConfig{N: 100, Dim: 8, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if ds.N() != 100 || ds.NQ() != 7 || ds.Dim != 8 || ds.Metric != distance.Cosine {
		t.Fatalf("shape %d×%d, %d queries, %v", ds.N(), ds.Dim, ds.NQ(), ds.Metric)
	}
	if filepath.Dir(ds.GTSave) != cache || !strings.Contains(ds.GTSave, "seed3") || !strings.Contains(ds.GTSave, "cosine") {
		t.Errorf("ground truth path %q", ds.GTSave)
	}
}

func TestLoadPrefix(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "tiny")
	base := []float32{0, 0, 1, 1, 2, 2, 3, 3}
	if err := SaveFvecs(prefix+"_base.fvecs", base, 2); err != nil {
		t.Fatal(err)
	}
	var qb []uint8 = []uint8{1, 1, 2, 2, 3, 3}
	f, _ := os.Create(prefix + "_query.bvecs")
	WriteBvecs(f, qb, 2)
	f.Close()

	ds, err := Load(prefix, Options{Metric: distance.L2, Queries: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Name != "tiny" || ds.N() != 4 || ds.NQ() != 2 || ds.Queries[2] != 2 {
		t.Fatalf("%s: %d base, %d queries %v", ds.Name, ds.N(), ds.NQ(), ds.Queries)
	}
	// Without X_gt.ivecs new ground truth goes there; with it, to a
	// metric-specific file so the data set's own is never overwritten.
	if ds.GTSave != prefix+"_gt.ivecs" || len(ds.GTPaths) != 2 {
		t.Errorf("paths %v, save %s", ds.GTPaths, ds.GTSave)
	}
	SaveIvecs(prefix+"_gt.ivecs", []int32{1, 2}, 1)
	ds, _ = Load(prefix, Options{Metric: distance.InnerProduct})
	if ds.GTSave != prefix+"_ip_gt.ivecs" || ds.GTPaths[0] != ds.GTSave {
		t.Errorf("with X_gt.ivecs present: paths %v, save %s", ds.GTPaths, ds.GTSave)
	}

	// Query and base dimensions must agree.
	SaveFvecs(prefix+"_query.fvecs", []float32{1, 2, 3}, 3)
	if _, err := Load(prefix, Options{}); !errors.Is(err, nearkit.ErrDimension) {
		t.Errorf("mismatched dims: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), Options{}); err == nil {
		t.Error("missing files accepted")
	}
}

func TestLoadFashionMNISTDir(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, n int) {
		pix := make([]byte, n*4)
		for i := range pix {
			pix[i] = byte(i)
		}
		if err := os.WriteFile(filepath.Join(dir, name), gzipBytes(t, idxBytes([]uint32{uint32(n), 2, 2}, pix)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("train-images-idx3-ubyte.gz", 6)
	write("t10k-images-idx3-ubyte.gz", 3)
	ds, err := Load("fashion-mnist", Options{FashionDir: dir, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if ds.N() != 6 || ds.NQ() != 3 || ds.Dim != 4 || ds.Base[5] != 5 {
		t.Fatalf("%d×%d, %d queries", ds.N(), ds.Dim, ds.NQ())
	}
	if _, err := Load("fashion-mnist", Options{FashionDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "dataset-fashion-mnist") {
		t.Errorf("missing files: %v", err)
	}
}

func TestLoadRejectsBadOptions(t *testing.T) {
	if _, err := Load("synthetic", Options{Metric: 9}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("bad metric: %v", err)
	}
	if _, err := Load("synthetic", Options{Queries: -1}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("negative queries: %v", err)
	}
}

func TestLoadHDF5(t *testing.T) {
	for _, c := range []struct {
		file   string
		metric distance.Metric
	}{{"ann_angular.hdf5", distance.Cosine}, {"ann_euclidean.hdf5", distance.L2}} {
		path := filepath.Join("hdf5", "testdata", c.file)
		ds, err := Load(path, Options{FileMetric: true, CacheDir: t.TempDir(), Queries: 4})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Metric != c.metric || ds.N() != 200 || ds.NQ() != 4 || ds.Dim != 8 || ds.GTK != 20 || len(ds.GT) != 10*20 {
			t.Fatalf("%s: %v, %d×%d, %d queries, ground truth %d×%d", c.file, ds.Metric, ds.N(), ds.Dim, ds.NQ(), len(ds.GT), ds.GTK)
		}
		// Another metric than the file's: its neighbours do not apply.
		other := distance.InnerProduct
		ds, err = Load(path, Options{Metric: other, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Metric != other || ds.GT != nil || !strings.Contains(ds.GTSave, "ann_") {
			t.Errorf("%s with %v: metric %v, ground truth %d, cache %q", c.file, other, ds.Metric, len(ds.GT), ds.GTSave)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.hdf5"), Options{FileMetric: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
