package bench

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/benchmarks/dataset"
	"github.com/nearkit/nearkit/benchmarks/dataset/hdf5"
	"github.com/nearkit/nearkit/distance"
)

var nonWord = regexp.MustCompile(`\W+`)

// ANNResultPath returns where WriteANNResult puts p under dir, following
// ann-benchmarks' results tree: <dataset>/<k>/nearkit-<index>/<params>.hdf5.
func ANNResultPath(dir string, p Point) string {
	name := strings.Trim(nonWord.ReplaceAllString(FormatParams(p.BuildParams)+"_"+FormatParams(p.SearchParams), "_"), "_")
	if name == "" {
		name = "default"
	}
	return filepath.Join(dir, p.Dataset, fmt.Sprint(p.K), "nearkit-"+p.Index, name+".hdf5")
}

// WriteANNResult writes p (measured with Config.Answers) as an
// ann-benchmarks result file, so its plot.py and data_export.py read
// nearkit's runs beside the other algorithms': root attributes algo,
// name, dataset, count, distance, build_time, index_size (kB),
// best_search_time, candidates, run_count, batch_mode, expect_extra, and
// the datasets times (s per query), neighbors and distances (in
// ann-benchmarks' units: Euclidean distance, not its square). It returns
// the file's path.
func WriteANNResult(dir string, p Point) (string, error) {
	a := p.Answers
	if a == nil || p.NQ == 0 || len(a.IDs) != p.NQ*p.K {
		return "", errors.New("bench: point measured without Config.Answers")
	}
	m, err := distance.ParseMetric(p.Metric)
	if err != nil {
		return "", err
	}
	ids := make([]int32, len(a.IDs))
	for i, id := range a.IDs {
		if id > math.MaxInt32 {
			return "", fmt.Errorf("bench: result ID %d does not fit ann-benchmarks' int32", id)
		}
		ids[i] = int32(id)
	}
	dists := make([]float32, len(a.Distances))
	for i, d := range a.Distances {
		if m == distance.L2 {
			d = float32(math.Sqrt(math.Max(0, float64(d))))
		}
		dists[i] = d
	}
	times := make([]float32, len(a.Seconds))
	var total float64
	for i, s := range a.Seconds {
		times[i] = float32(s)
		total += s
	}
	var w hdf5.Writer
	name := "nearkit-" + p.Index + "(" + FormatParams(p.BuildParams) + ", " + FormatParams(p.SearchParams) + ")"
	w.AttrString("algo", "nearkit-"+p.Index)
	w.AttrString("name", name)
	w.AttrString("dataset", p.Dataset)
	w.AttrString("distance", dataset.ANNMetricName(m))
	w.AttrInt("count", int64(p.K))
	w.AttrFloat("build_time", p.BuildS)
	w.AttrFloat("index_size", float64(p.MemBytes)/1024)
	w.AttrFloat("best_search_time", total/float64(len(a.Seconds)))
	w.AttrFloat("candidates", float64(p.K))
	w.AttrInt("run_count", 1)
	w.AttrInt("batch_mode", 0)
	w.AttrInt("expect_extra", 0)
	if err := w.Float32s("times", []int{p.NQ}, times); err != nil {
		return "", err
	}
	if err := w.Int32s("neighbors", []int{p.NQ, p.K}, ids); err != nil {
		return "", err
	}
	if err := w.Float32s("distances", []int{p.NQ, p.K}, dists); err != nil {
		return "", err
	}
	path := ANNResultPath(dir, p)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, nearkit.SaveFile(path, &w)
}
