package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset/hdf5"
	"github.com/nearkit/nearkit/distance"
)

// IsHDF5 reports whether spec names an ann-benchmarks .hdf5 (or .h5) file.
func IsHDF5(spec string) bool {
	ext := strings.ToLower(filepath.Ext(spec))
	return ext == ".hdf5" || ext == ".h5"
}

// ParseANNMetric maps an ann-benchmarks distance attribute to a metric:
// "euclidean" is L2, "angular" is cosine, "ip" and "dot" are the inner
// product. Hamming and Jaccard (binary and set data) have no nearkit
// metric.
func ParseANNMetric(s string) (distance.Metric, error) {
	switch strings.ToLower(s) {
	case "euclidean", "l2":
		return distance.L2, nil
	case "angular", "cosine":
		return distance.Cosine, nil
	case "ip", "dot", "inner_product":
		return distance.InnerProduct, nil
	}
	return 0, fmt.Errorf("%w: ann-benchmarks distance %q has no nearkit metric", nearkit.ErrInvalidConfig, s)
}

// ANNMetricName is ParseANNMetric's inverse, the name ann-benchmarks'
// result files and plotting scripts use.
func ANNMetricName(m distance.Metric) string {
	switch m {
	case distance.Cosine:
		return "angular"
	case distance.InnerProduct:
		return "ip"
	}
	return "euclidean"
}

// loadHDF5 reads an ann-benchmarks file: train is the base set, test the
// queries, neighbors (base row numbers, nearest first) the ground truth,
// and the root attribute distance the metric. The file's ground truth is
// used only when the benchmark runs with the file's own metric (always,
// with Options.FileMetric); otherwise ground truth for the chosen metric
// is cached as <cache>/<name>-<metric>_gt.ivecs.
func loadHDF5(ds *Dataset, path string, opts Options, cache string) error {
	f, err := hdf5.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ds.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	name, err := f.AttrString("distance")
	if err != nil {
		return fmt.Errorf("%s: distance attribute: %w", path, err)
	}
	fileMetric, err := ParseANNMetric(name)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if opts.FileMetric {
		ds.Metric = fileMetric
	}
	matrix := func(name string) (*hdf5.Dataset, int, int, error) {
		d, err := f.Dataset(name)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		s := d.Shape()
		if len(s) != 2 || s[1] <= 0 || s[1] > MaxDim {
			return nil, 0, 0, fmt.Errorf("%w: %s: %s has shape %v, want rows × 1..%d", nearkit.ErrCorrupt, path, name, s, MaxDim)
		}
		return d, s[0], s[1], nil
	}
	train, _, dim, err := matrix("train")
	if err != nil {
		return err
	}
	test, _, qdim, err := matrix("test")
	if err != nil {
		return err
	}
	if qdim != dim {
		return fmt.Errorf("%w: %s: train is %d-d but test is %d-d", nearkit.ErrDimension, path, dim, qdim)
	}
	ds.Dim = dim
	if ds.Base, err = train.Float32s(); err != nil {
		return fmt.Errorf("%s: train: %w", path, err)
	}
	if ds.Queries, err = test.Float32s(); err != nil {
		return fmt.Errorf("%s: test: %w", path, err)
	}
	ds.GTSave = filepath.Join(cache, fmt.Sprintf("%s-%v_gt.ivecs", ds.Name, ds.Metric))
	ds.GTPaths = []string{ds.GTSave}
	if ds.Metric != fileMetric {
		return nil
	}
	nb, _, k, err := matrix("neighbors")
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if ds.GT, err = nb.Int32s(); err != nil {
		return fmt.Errorf("%s: neighbors: %w", path, err)
	}
	ds.GTK = k
	return nil
}
