package bench

import (
	"strconv"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

// hnswFlags are shared by every HNSW variant.
var hnswFlags = []Flag{
	{Name: "M", Kind: Positive, Default: "16", Usage: "HNSW links per node (comma list: one build per value)"},
	{Name: "efc", Kind: Positive, Default: "200", Usage: "HNSW construction beam width (comma list)"},
	{Name: "ef", Kind: Positive, Default: "10,20,40,80,160,320", Usage: "HNSW search beam widths to sweep (default " + strconv.Itoa(hnsw.DefaultEfSearch) + " in the library)"},
}

func init() {
	registerHNSW("hnsw", hnsw.NoQuantization)
	// hnsw-sq8: the same graph searched on 8-bit codes (the first AddBatch
	// trains the codec), final candidates re-ranked with float32 vectors.
	registerHNSW("hnsw-sq8", hnsw.SQ8)
}

func registerHNSW(name string, quant hnsw.Quantization) {
	Register(&Builder{
		Name:  name,
		Flags: hnswFlags,
		Configs: func(p Params) ([]BuildConfig, error) {
			var sweep []SearchPoint
			for _, ef := range p.Ints("ef") {
				sweep = append(sweep, SearchPoint{
					Params: map[string]any{"ef": ef},
					Opts:   nearkit.SearchOptions{Ef: ef},
				})
			}
			var out []BuildConfig
			for _, m := range p.Ints("M") {
				for _, efc := range p.Ints("efc") {
					cfg := hnsw.Config{M: m, EfConstruction: efc, Seed: p.Seed, Quantization: quant}
					out = append(out, BuildConfig{
						Params: map[string]any{"M": m, "efc": efc},
						New: func(dim int, metric distance.Metric, capacity int) (nearkit.Index, error) {
							c := cfg
							c.Dim, c.Metric, c.Capacity = dim, metric, capacity
							return hnsw.New(c)
						},
						Sweep: sweep,
					})
				}
			}
			return out, nil
		},
	})
}
