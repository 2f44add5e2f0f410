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

// FlagKind says how the value of an index flag is parsed.
type FlagKind int

const (
	// Positive is a comma-separated list of integers > 0; each value is a
	// build configuration or a sweep point.
	Positive FlagKind = iota
	// NonNegative is a comma-separated list of integers >= 0 (0 meaning
	// "off", as for a re-ranking factor).
	NonNegative
	// Switch is a boolean flag (-opq, -opq=false).
	Switch
)

// A Flag is a command-line flag owned by one or more index types.
// Several index types may own the same flag (hnsw and hnsw-sq8 both own
// -M); they must then declare the same kind and default.
type Flag struct {
	Name    string
	Kind    FlagKind
	Default string
	Usage   string
}

// A Builder is one index type the harness can run: adding an index type
// is one Register call with a Builder.
type Builder struct {
	// Name is what -index selects.
	Name string
	// Flags are the command-line flags this index type reads. The command
	// defines every registered flag once and refuses one given for no
	// chosen index type.
	Flags []Flag
	// Configs expands p into the build configurations to run; it reads its
	// flags with p.Ints and p.Bool.
	Configs func(p Params) ([]BuildConfig, error)
}

// Owns reports whether b reads the flag called name.
func (b *Builder) Owns(name string) bool {
	return slices.ContainsFunc(b.Flags, func(f Flag) bool { return f.Name == name })
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

var (
	registry = map[string]*Builder{}
	flags    = map[string]Flag{}
)

// Register adds an index type to the harness. It panics on a duplicate
// name, a malformed flag default, or a flag declared differently by two
// index types: registration happens at init time, from this package.
func Register(b *Builder) {
	if _, dup := registry[b.Name]; dup {
		panic("bench: index type " + b.Name + " registered twice")
	}
	for _, f := range b.Flags {
		if _, err := parseFlag(f, f.Default); err != nil {
			panic(fmt.Sprintf("bench: %s: flag -%s: default: %v", b.Name, f.Name, err))
		}
		if g, ok := flags[f.Name]; ok && (g.Kind != f.Kind || g.Default != f.Default) {
			panic(fmt.Sprintf("bench: %s declares flag -%s unlike another index type", b.Name, f.Name))
		} else if !ok {
			flags[f.Name] = f
		}
	}
	registry[b.Name] = b
}

// plannedTypes are index types the project plans but this build may not
// have yet: asking for them gives "not available" rather than "unknown".
var plannedTypes = []string{}

// Available returns the registered index type names, sorted.
func Available() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Flags returns every flag some registered index type owns, sorted by
// name, each with the sorted names of the index types that own it.
func Flags() []OwnedFlag {
	out := make([]OwnedFlag, 0, len(flags))
	for _, f := range flags {
		of := OwnedFlag{Flag: f}
		for _, n := range Available() {
			if registry[n].Owns(f.Name) {
				of.Owners = append(of.Owners, n)
			}
		}
		out = append(out, of)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// OwnedFlag is a Flag with the index types that read it.
type OwnedFlag struct {
	Flag
	Owners []string
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

// CheckFlags returns an error naming the first flag in set that none of
// the index types in names owns (names must be registered).
func CheckFlags(names []string, set []string) error {
	for _, f := range set {
		owned := false
		for _, n := range names {
			if b := registry[n]; b != nil && b.Owns(f) {
				owned = true
			}
		}
		if !owned {
			var owners []string
			for _, n := range Available() {
				if registry[n].Owns(f) {
					owners = append(owners, n)
				}
			}
			return fmt.Errorf("%w: -%s belongs to %s, and -index chose %s", nearkit.ErrInvalidConfig, f, strings.Join(owners, ", "), strings.Join(names, ","))
		}
	}
	return nil
}

// Params are the values of index flags given on the command line, plus
// the seed of randomised indexes. A flag not Set has its default. The
// zero Params is ready to use.
type Params struct {
	values map[string]any
	Seed   uint64
}

// Set parses value for the registered flag name.
func (p *Params) Set(name, value string) error {
	f, ok := flags[name]
	if !ok {
		return fmt.Errorf("%w: no index type has a flag -%s", nearkit.ErrInvalidConfig, name)
	}
	v, err := parseFlag(f, value)
	if err != nil {
		return fmt.Errorf("-%s: %w", name, err)
	}
	if p.values == nil {
		p.values = map[string]any{}
	}
	p.values[name] = v
	return nil
}

func (p Params) value(name string) any {
	if v, ok := p.values[name]; ok {
		return v
	}
	f, ok := flags[name]
	if !ok {
		return nil
	}
	v, _ := parseFlag(f, f.Default) // checked by Register
	return v
}

// Ints returns the list flag name's values (its default when not Set; nil
// for a flag no index type registered).
func (p Params) Ints(name string) []int {
	v, _ := p.value(name).([]int)
	return v
}

// Bool returns the switch flag name's value.
func (p Params) Bool(name string) bool {
	v, _ := p.value(name).(bool)
	return v
}

func parseFlag(f Flag, s string) (any, error) {
	switch f.Kind {
	case Switch:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a boolean", nearkit.ErrInvalidConfig, s)
		}
		return b, nil
	}
	least := 1
	if f.Kind == NonNegative {
		least = 0
	}
	v, err := parseInts(s, least)
	if err == nil && len(v) == 0 {
		err = fmt.Errorf("%w: needs at least one value", nearkit.ErrInvalidConfig)
	}
	return v, err
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
func ParseInts(s string) ([]int, error) { return parseInts(s, 1) }

func parseInts(s string, least int) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < least {
			what := "a positive integer"
			if least == 0 {
				what = "a non-negative integer"
			}
			return nil, fmt.Errorf("%w: %q is not %s", nearkit.ErrInvalidConfig, f, what)
		}
		out = append(out, v)
	}
	return out, nil
}
