package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/nearkit/nearkit/benchmarks/bench"
)

// A record is one measured point of one library in one round: nearbench's
// Point fields that the peers also report.
type record struct {
	Library      string         `json:"library"`
	Index        string         `json:"index"`
	BuildParams  map[string]any `json:"build_params"`
	SearchParams map[string]any `json:"search_params"`
	Recall       float64        `json:"recall"`
	QPS          float64        `json:"qps"`
	BuildS       float64        `json:"build_s"`
	BuildS1T     float64        `json:"build_s_1t"`
	MemBytes     int64          `json:"mem_bytes"`
	Round        int            `json:"round"`
}

// series names the curve a record belongs to: library, index type and
// build parameters.
func (r record) series() string {
	s := r.Library + " " + r.Index
	if bp := bench.FormatParams(r.BuildParams); bp != "-" {
		s += " " + bp
	}
	return s
}

// qpsAt returns the single-thread QPS at recall target on the curve of
// pts: the upper (Pareto) frontier of (recall, QPS), with log QPS
// interpolated linearly in recall between the two frontier points around
// the target. A target below every point gives the fastest point's QPS
// (it already exceeds the target); one above every point gives ok=false.
func qpsAt(pts []record, target float64) (qps float64, ok bool) {
	var front []record
	sorted := slices.Clone(pts)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Recall != sorted[j].Recall {
			return sorted[i].Recall > sorted[j].Recall
		}
		return sorted[i].QPS > sorted[j].QPS
	})
	// From the highest recall down, keep each point faster than all kept.
	for _, p := range sorted {
		if p.QPS <= 0 {
			continue
		}
		if len(front) == 0 || p.QPS > front[len(front)-1].QPS {
			front = append(front, p)
		}
	}
	if len(front) == 0 || front[0].Recall < target {
		return 0, false
	}
	// front: recall descending, QPS ascending... reversed below.
	slices.Reverse(front)
	if front[0].Recall >= target {
		return front[0].QPS, true
	}
	for i := 1; i < len(front); i++ {
		lo, hi := front[i-1], front[i]
		if hi.Recall >= target {
			t := (target - lo.Recall) / (hi.Recall - lo.Recall)
			return math.Exp(math.Log(lo.QPS) + t*(math.Log(hi.QPS)-math.Log(lo.QPS))), true
		}
	}
	return 0, false
}

// comparison is one row of the ratio table.
type comparison struct {
	ours, peer   string
	target       float64
	oursQPS      float64 // medians over rounds
	peerQPS      float64
	ratio        float64
	lo, hi       float64 // range of the per-round ratios
	rounds       int
	oursB, peerB float64 // median build seconds, all threads
}

// compare pairs every nearkit series with every peer series: for each
// recall target and each round in which both reach it, the ratio of
// nearkit's QPS to the peer's at that recall, then medians over rounds.
func compare(recs []record, targets []float64) []comparison {
	type key struct {
		series string
		round  int
	}
	curves := map[key][]record{}
	var ours, peers []string
	rounds := map[int]bool{}
	for _, r := range recs {
		k := key{r.series(), r.Round}
		if _, seen := curves[k]; !seen {
			list := &peers
			if r.Library == "nearkit" {
				list = &ours
			}
			if !slices.Contains(*list, k.series) {
				*list = append(*list, k.series)
			}
		}
		curves[k] = append(curves[k], r)
		rounds[r.Round] = true
	}
	var roundList []int
	for r := range rounds {
		roundList = append(roundList, r)
	}
	sort.Ints(roundList)
	var out []comparison
	for _, o := range ours {
		for _, p := range peers {
			for _, t := range targets {
				var ratios, oq, pq, ob, pb []float64
				for _, r := range roundList {
					oc, pc := curves[key{o, r}], curves[key{p, r}]
					if len(oc) == 0 || len(pc) == 0 {
						continue
					}
					a, okA := qpsAt(oc, t)
					b, okB := qpsAt(pc, t)
					if !okA || !okB {
						continue
					}
					ratios = append(ratios, a/b)
					oq, pq = append(oq, a), append(pq, b)
					ob, pb = append(ob, oc[0].BuildS), append(pb, pc[0].BuildS)
				}
				if len(ratios) == 0 {
					continue
				}
				out = append(out, comparison{
					ours: o, peer: p, target: t,
					oursQPS: median(oq), peerQPS: median(pq), ratio: median(ratios),
					lo: slices.Min(ratios), hi: slices.Max(ratios), rounds: len(ratios),
					oursB: median(ob), peerB: median(pb),
				})
			}
		}
	}
	return out
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// writeRatios prints the ratio table.
func writeRatios(w io.Writer, cs []comparison) error {
	rows := [][]string{{"nearkit", "peer", "recall", "nearkit QPS", "peer QPS", "ratio", "range", "rounds", "build s (nearkit / peer)"}}
	for _, c := range cs {
		rows = append(rows, []string{
			c.ours, c.peer, fmt.Sprintf("%.2f", c.target),
			fmt.Sprintf("%.0f", c.oursQPS), fmt.Sprintf("%.0f", c.peerQPS),
			fmt.Sprintf("%.2f×", c.ratio), fmt.Sprintf("%.2f–%.2f", c.lo, c.hi),
			fmt.Sprint(c.rounds), fmt.Sprintf("%.1f / %.1f", c.oursB, c.peerB),
		})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var sb, out strings.Builder
	for ri, r := range rows {
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				sb.WriteString("  ")
			}
			if i >= 2 && i < len(r)-1 {
				sb.WriteString(pad + c)
			} else {
				sb.WriteString(c + pad)
			}
		}
		line := strings.TrimRight(sb.String(), " ")
		sb.Reset()
		out.WriteString(line + "\n")
		if ri == 0 {
			out.WriteString(strings.Repeat("-", len([]rune(line))) + "\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// medianPoints collapses the rounds: one point per series and search
// setting, with the median recall and QPS over rounds, for the plot.
func medianPoints(recs []record) []bench.Point {
	type key struct{ series, search string }
	groups := map[key][]record{}
	var order []key
	for _, r := range recs {
		k := key{r.series(), bench.FormatParams(r.SearchParams)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var pts []bench.Point
	for _, k := range order {
		g := groups[k]
		var rec, qps []float64
		for _, r := range g {
			rec, qps = append(rec, r.Recall), append(qps, r.QPS)
		}
		pts = append(pts, bench.Point{
			Index: g[0].Library + " " + g[0].Index, BuildParams: g[0].BuildParams, SearchParams: g[0].SearchParams,
			Recall: median(rec), QPS: median(qps),
		})
	}
	return pts
}
