package bench

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
)

// Params are the index parameters given on the command line. Build
// parameters are lists too: each index type runs the cartesian product of
// the ones it uses. An empty list means the index type's default.
type Params struct {
	M      []int // HNSW: links per node
	EfC    []int // HNSW: construction beam width
	NList  []int // IVF: number of lists
	PQM    []int // PQ: number of sub-quantizers
	Ef     []int // HNSW search sweep
	NProbe []int // IVF search sweep
	Rerank []int // IVF-PQ: re-ranking factors to sweep (0: none)
	OPQ    bool  // IVF-PQ: OPQ rotation
	Seed   uint64
}

// A Builder is one index type the harness can run.
type Builder struct {
	// Name is what -index selects.
	Name string
	// Uses lists the Params fields (by flag name: "M", "efc", "nlist",
	// "m", "ef", "nprobe") this index type reads, so the command can warn
	// about flags no selected index uses.
	Uses []string
	// Configs expands p into the build configurations to run.
	Configs func(p Params) ([]BuildConfig, error)
}

// BuildConfig is one index configuration and its search sweep.
type BuildConfig struct {
	// Params are the build parameters, as recorded in results.
	Params map[string]any
	// New returns an empty index for the data set's dimension and metric;
	// capacity is the number of vectors that will be added (a sizing hint,
	// as hnswlib's max_elements).
	New func(dim int, m distance.Metric, capacity int) (nearkit.Index, error)
	// Prepare, when non-nil, runs on the empty index before the base set
	// is added, inside the timed build (ivf: training).
	Prepare func(ctx context.Context, idx nearkit.Index, base []float32, prog Progress) error
	// Sweep are the search settings to measure, in order.
	Sweep []SearchPoint
}

// SearchPoint is one search setting of a sweep.
type SearchPoint struct {
	Params map[string]any
	Opts   nearkit.SearchOptions
}

var registry = map[string]*Builder{}

// Register adds an index type to the harness. It panics on a duplicate
// name: registration happens at init time, from this package.
func Register(b *Builder) {
	if _, dup := registry[b.Name]; dup {
		panic("bench: index type " + b.Name + " registered twice")
	}
	registry[b.Name] = b
}

// plannedTypes are index types the project plans but this build may not
// have yet: asking for them gives "not available" rather than "unknown".
var plannedTypes = []string{"hnsw", "ivfflat", "ivfsq8", "ivfpq", "ivfpqfs", "pq"}

// Available returns the registered index type names, sorted.
func Available() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the builder for name, or an error that says whether the
// type is planned but not built yet or unknown.
func Lookup(name string) (*Builder, error) {
	if b, ok := registry[name]; ok {
		return b, nil
	}
	avail := strings.Join(Available(), ", ")
	if slices.Contains(plannedTypes, name) {
		return nil, fmt.Errorf("%w: index type %q is not available yet in this nearkit (available: %s)", nearkit.ErrInvalidConfig, name, avail)
	}
	return nil, fmt.Errorf("%w: unknown index type %q (available: %s)", nearkit.ErrInvalidConfig, name, avail)
}

func init() {
	Register(&Builder{
		Name: "flat",
		Configs: func(Params) ([]BuildConfig, error) {
			return []BuildConfig{{
				Params: map[string]any{},
				New: func(dim int, m distance.Metric, _ int) (nearkit.Index, error) {
					return flat.New(flat.Config{Dim: dim, Metric: m})
				},
				Sweep: []SearchPoint{{Params: map[string]any{}}},
			}}, nil
		},
	})
}

// orDefault returns xs, or a one-element list of def when xs is empty.
func orDefault(xs []int, def int) []int {
	if len(xs) == 0 {
		return []int{def}
	}
	return xs
}

// FormatParams renders params as "a=1,b=2" in key order, "-" when empty.
func FormatParams(p map[string]any) string {
	if len(p) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%s=%v", k, p[k])
	}
	return sb.String()
}

// ParseInts parses a comma-separated list of positive integers ("" gives
// nil).
func ParseInts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%w: %q is not a positive integer", nearkit.ErrInvalidConfig, f)
		}
		out = append(out, v)
	}
	return out, nil
}
