package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// WriteTable prints points as an aligned text table: text columns left,
// numbers right.
func WriteTable(w io.Writer, points []Point) error {
	head := []string{"index", "build", "search", "recall", "QPS", "QPS batch", "p50 µs", "p95 µs", "p99 µs", "build s", "mem MB", "heap MB", "dist/q"}
	numeric := func(col int) bool { return col >= 3 }
	rows := [][]string{head}
	for _, p := range points {
		dist := "-"
		if p.DistComps > 0 {
			dist = fmt.Sprintf("%.0f", p.DistComps)
		}
		recall := fmt.Sprintf("%.4f", p.Recall)
		if p.RecallBatch != nil {
			recall += fmt.Sprintf(" (batch %.4f)", *p.RecallBatch)
		}
		build := fmt.Sprintf("%.2f", p.BuildS)
		if p.BuildS1T > 0 {
			build += fmt.Sprintf(" (1t %.2f)", p.BuildS1T)
		}
		rows = append(rows, []string{
			p.Index, FormatParams(p.BuildParams), FormatParams(p.SearchParams),
			recall, fmt.Sprintf("%.0f", p.QPS), fmt.Sprintf("%.0f", p.QPSBatch),
			fmt.Sprintf("%.1f", p.P50us), fmt.Sprintf("%.1f", p.P95us), fmt.Sprintf("%.1f", p.P99us),
			build, fmt.Sprintf("%.1f", float64(p.MemBytes)/(1<<20)), fmt.Sprintf("%.1f", float64(p.HeapBytes)/(1<<20)), dist,
		})
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var sb strings.Builder
	for ri, r := range rows {
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				sb.WriteString("  ")
			}
			if numeric(i) {
				sb.WriteString(pad + c)
			} else if i == len(r)-1 {
				sb.WriteString(c)
			} else {
				sb.WriteString(c + pad)
			}
		}
		sb.WriteByte('\n')
		if ri == 0 {
			total := 2 * (len(width) - 1)
			for _, w := range width {
				total += w
			}
			sb.WriteString(strings.Repeat("-", total) + "\n")
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// Plot writes a recall-versus-QPS chart of points to path (PNG, SVG or
// PDF by extension): one line per index configuration through its sweep,
// single-thread QPS on a log scale, as in ann-benchmarks.
func Plot(path, title string, points []Point) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "recall@k"
	p.Y.Label.Text = "queries per second (1 thread, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = true

	type series struct {
		name string
		xys  plotter.XYs
	}
	var all []*series
	byName := map[string]*series{}
	for _, pt := range points {
		if pt.QPS <= 0 {
			continue // a log scale cannot show it
		}
		name := pt.Index
		if bp := FormatParams(pt.BuildParams); bp != "-" {
			name += " " + bp
		}
		s := byName[name]
		if s == nil {
			s = &series{name: name}
			byName[name] = s
			all = append(all, s)
		}
		s.xys = append(s.xys, plotter.XY{X: pt.Recall, Y: pt.QPS})
	}
	if len(all) == 0 {
		return fmt.Errorf("bench: plot: no points with positive QPS")
	}
	// Fixed ranges: recall up to exactly 1, QPS padded so a single point
	// (flat) still gets a readable log axis.
	minR, minQ, maxQ := 1.0, math.Inf(1), 0.0
	for _, s := range all {
		for _, xy := range s.xys {
			minR = min(minR, xy.X)
			minQ = min(minQ, xy.Y)
			maxQ = max(maxQ, xy.Y)
		}
	}
	p.X.Min = max(0, math.Floor((minR-0.02)*20)/20)
	p.X.Max = 1.005
	p.Y.Min, p.Y.Max = minQ/1.5, maxQ*1.5
	for i, s := range all {
		line, scatter, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return err
		}
		c := plotutil.Color(i)
		line.Color = c
		line.Width = vg.Points(1.5)
		scatter.Color = c
		scatter.Shape = plotutil.Shape(i)
		scatter.Radius = vg.Points(3)
		p.Add(line, scatter)
		p.Legend.Add(s.name, line, scatter)
	}
	return p.Save(7*vg.Inch, 5*vg.Inch, path)
}

// logTicks marks 1, 2 and 5 times each power of ten (and every integer
// multiple when the axis spans less than a decade), so short log ranges
// still get labels; plot.LogTicks labels powers of ten only.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	mults := []float64{1, 2, 5}
	if hi/lo < 10 {
		mults = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		p := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			for _, mm := range mults {
				if m == mm {
					t.Label = strconv.FormatFloat(v, 'f', -1, 64)
				}
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// Legend explains the columns of WriteTable.
const Legend = "recall: recall@k, the share of each query's true k nearest returned.  QPS: queries/s, one at a time on 1 thread.\n" +
	"QPS batch: SearchBatch on -threads threads.  p50/p95/p99 µs: single-query latency percentiles.  build s: build time\n" +
	"(1t: on one thread).  mem MB: the index's own accounting; heap MB: Go heap growth.  dist/q: distances computed per query."

// verdictRecalls are the recall targets the verdict speaks of.
var verdictRecalls = []float64{0.9, 0.95, 0.99}

// WriteVerdict prints a few plain sentences about points: for each index
// configuration with a sweep, the fastest setting reaching each recall
// target, and its speed relative to flat (exact search) when flat was run.
func WriteVerdict(w io.Writer, points []Point) error {
	var flatQPS float64
	type config struct {
		name string
		pts  []Point
	}
	var configs []*config
	byName := map[string]*config{}
	for _, p := range points {
		if p.Index == "flat" {
			flatQPS = max(flatQPS, p.QPS)
			continue
		}
		name := p.Index
		if bp := FormatParams(p.BuildParams); bp != "-" {
			name += " " + bp
		}
		c := byName[name]
		if c == nil {
			c = &config{name: name}
			byName[name] = c
			configs = append(configs, c)
		}
		c.pts = append(c.pts, p)
	}
	var sb strings.Builder
	sb.WriteString("Verdict:\n")
	if flatQPS > 0 {
		fmt.Fprintf(&sb, "  flat is exact (recall 1) at %.0f QPS: the baseline every approximate index must beat.\n", flatQPS)
	}
	for _, c := range configs {
		var parts []string
		best := c.pts[0]
		for _, target := range verdictRecalls {
			var hit *Point
			for i := range c.pts {
				p := &c.pts[i]
				if p.Recall >= target && (hit == nil || p.QPS > hit.QPS) {
					hit = p
				}
			}
			if hit == nil {
				continue
			}
			s := fmt.Sprintf("%s reaches recall %.3f at %s QPS", FormatParams(hit.SearchParams), hit.Recall, formatQPS(hit.QPS))
			if flatQPS > 0 {
				s += fmt.Sprintf(" (%.1f× flat)", hit.QPS/flatQPS)
			}
			if len(parts) == 0 || !strings.HasPrefix(parts[len(parts)-1], FormatParams(hit.SearchParams)+" ") {
				parts = append(parts, s)
			}
		}
		for _, p := range c.pts {
			if p.Recall > best.Recall {
				best = p
			}
		}
		if len(parts) == 0 {
			fmt.Fprintf(&sb, "  %s: best recall %.3f (%s); widen the search to reach 0.9.\n", c.name, best.Recall, FormatParams(best.SearchParams))
			continue
		}
		fmt.Fprintf(&sb, "  %s: %s.\n", c.name, strings.Join(parts, "; "))
	}
	if len(configs) > 0 {
		sb.WriteString("  A wider search (ef, nprobe) buys recall with speed: pick the cheapest setting that meets your recall target.\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func formatQPS(q float64) string {
	if q >= 10000 {
		return fmt.Sprintf("%.1fk", q/1000)
	}
	return fmt.Sprintf("%.0f", q)
}
