// Package pair times two ways of doing the same work in alternation, for
// the benchmarks of cluster and cluster/httpnode: on a machine other jobs
// load, only a ratio of paired, interleaved runs means anything.
package pair

import (
	"slices"
	"testing"
	"time"
)

// Bench runs a and b once per benchmark iteration, in alternating order,
// and reports the medians of their times (a-µs, b-µs) and of the ratio
// b/a within each pair (ratio), so that load that comes and goes hits
// both sides alike. The ns/op figure is the pair's.
func Bench(tb *testing.B, aName, bName string, a, b func()) {
	var ta, tbs, ratio []float64
	i := 0
	for tb.Loop() {
		var da, db time.Duration
		if i%2 == 0 {
			da, db = timed(a), timed(b)
		} else {
			db, da = timed(b), timed(a)
		}
		i++
		ta = append(ta, float64(da.Nanoseconds())/1e3)
		tbs = append(tbs, float64(db.Nanoseconds())/1e3)
		ratio = append(ratio, float64(db)/float64(max(da, 1)))
	}
	tb.ReportMetric(median(ta), aName+"-µs")
	tb.ReportMetric(median(tbs), bName+"-µs")
	tb.ReportMetric(median(ratio), bName+"/"+aName)
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return v[len(v)/2]
}
