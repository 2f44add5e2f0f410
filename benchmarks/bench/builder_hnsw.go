package bench

import (
	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

func init() {
	registerHNSW("hnsw", hnsw.NoQuantization)
	// hnsw-sq8: the same graph searched on 8-bit codes (the first AddBatch
	// trains the codec), final candidates re-ranked with float32 vectors.
	registerHNSW("hnsw-sq8", hnsw.SQ8)
}

func registerHNSW(name string, quant hnsw.Quantization) {
	Register(&Builder{
		Name: name,
		Uses: []string{"M", "efc", "ef"},
		Configs: func(p Params) ([]BuildConfig, error) {
			var sweep []SearchPoint
			for _, ef := range orDefault(p.Ef, hnsw.DefaultEfSearch) {
				sweep = append(sweep, SearchPoint{
					Params: map[string]any{"ef": ef},
					Opts:   nearkit.SearchOptions{Ef: ef},
				})
			}
			var out []BuildConfig
			for _, m := range orDefault(p.M, 16) {
				for _, efc := range orDefault(p.EfC, 200) {
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
