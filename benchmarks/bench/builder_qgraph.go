package bench

import (
	"context"
	"fmt"
	"slices"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
)

// hnsw-qg: the HNSW graph with each node's level-0 neighbours' 4-bit PQ
// codes stored in its own fast-scan block (hnsw.QGraph); the quantizer is
// trained on the base set before adding (timed with the build).
var qgraphFlags = []Flag{
	{Name: "qgm", Kind: NonNegative, Default: "0", Usage: "hnsw-qg: 4-bit subquantizers, a divisor of the dimension; 0 = the library's default (comma list)"},
}

func init() {
	Register(&Builder{
		Name:  "hnsw-qg",
		Flags: append(slices.Clip(hnswFlags), qgraphFlags...),
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
					for _, qgm := range p.Ints("qgm") {
						cfg := hnsw.Config{M: m, EfConstruction: efc, Seed: p.Seed, Quantization: hnsw.QGraph, QGraphSubspaces: qgm}
						out = append(out, BuildConfig{
							Params: map[string]any{"M": m, "efc": efc, "qgm": qgm},
							New: func(dim int, metric distance.Metric, capacity int) (nearkit.Index, error) {
								c := cfg
								c.Dim, c.Metric, c.Capacity = dim, metric, capacity
								return hnsw.New(c)
							},
							Prepare: func(ctx context.Context, idx nearkit.Index, base []float32, _ Progress) error {
								x, ok := idx.(*hnsw.Index)
								if !ok {
									return fmt.Errorf("bench: hnsw-qg index is a %T", idx)
								}
								return x.Train(ctx, base)
							},
							Sweep: sweep,
						})
					}
				}
			}
			return out, nil
		},
	})
}
