package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/ivf"
)

func init() {
	registerIVF("ivfflat", ivf.Flat)
	registerIVF("ivfsq8", ivf.SQ8)
	// ivfpq: 8-bit residual PQ codes; ivfpqfs: 4-bit fast-scan codes. With
	// -rerank > 0 the float32 vectors are kept in the lists and the best
	// k×rerank candidates re-scored with them (FAISS IndexRefineFlat).
	registerIVF("ivfpq", ivf.PQ)
	registerIVF("ivfpqfs", ivf.PQFastScan)
}

// ivfTrainer is what build needs of an ivf index before adding: training
// on the base set (FAISS trains on a sample of it too).
type ivfTrainer interface {
	Train(ctx context.Context, samples []float32) error
}

// ivfFlags are read by every IVF variant; ivfPQFlags only by the PQ ones.
var (
	ivfFlags = []Flag{
		{Name: "nlist", Kind: Positive, Default: "256", Usage: "IVF number of lists (comma list: one build per value)"},
		{Name: "nprobe", Kind: Positive, Default: "1,2,4,8,16,32,64", Usage: "IVF lists probed, to sweep (default " + strconv.Itoa(ivf.DefaultNProbe) + " in the library)"},
	}
	ivfPQFlags = []Flag{
		{Name: "m", Kind: Positive, Default: "16", Usage: "IVF-PQ number of sub-quantizers (comma list)"},
		{Name: "rerank", Kind: NonNegative, Default: "0", Usage: "IVF-PQ re-ranking factors to sweep, 0 = none (comma list)"},
		{Name: "opq", Kind: Switch, Default: "false", Usage: "IVF-PQ: OPQ rotation before product quantization"},
	}
)

func registerIVF(name string, enc ivf.Encoding) {
	pqEnc := enc == ivf.PQ || enc == ivf.PQFastScan
	fl := ivfFlags
	if pqEnc {
		fl = append(slices.Clip(ivfFlags), ivfPQFlags...)
	}
	Register(&Builder{
		Name:  name,
		Flags: fl,
		Configs: func(p Params) ([]BuildConfig, error) {
			reranks := []int{0}
			if pqEnc {
				reranks = p.Ints("rerank")
			}
			keep := false
			for _, r := range reranks {
				keep = keep || r > 0
			}
			ms := []int{0}
			if pqEnc {
				ms = p.Ints("m")
			}
			opq := pqEnc && p.Bool("opq")
			var out []BuildConfig
			for _, nlist := range p.Ints("nlist") {
				var sweep []SearchPoint
				for _, r := range reranks {
					for _, np := range p.Ints("nprobe") {
						sp := map[string]any{"nprobe": np}
						if pqEnc {
							sp["rerank"] = r
						}
						sweep = append(sweep, SearchPoint{Params: sp, Opts: nearkit.SearchOptions{NProbe: np, Rerank: r}})
					}
				}
				for _, m := range ms {
					cfg := ivf.Config{NList: nlist, Encoding: enc, M: m, OPQ: opq, KeepVectors: keep && pqEnc, Seed: p.Seed}
					bp := map[string]any{"nlist": nlist}
					if pqEnc {
						bp["m"] = m
						if cfg.OPQ {
							bp["opq"] = true
						}
					}
					out = append(out, BuildConfig{
						Params: bp,
						New: func(dim int, metric distance.Metric, _ int) (nearkit.Index, error) {
							c := cfg
							c.Dim, c.Metric = dim, metric
							return ivf.New(c)
						},
						Prepare: func(ctx context.Context, idx nearkit.Index, base []float32, prog Progress) error {
							t, ok := idx.(ivfTrainer)
							if !ok {
								return fmt.Errorf("bench: %s index cannot be trained", name)
							}
							return t.Train(ctx, base)
						},
						Sweep: sweep,
					})
				}
			}
			return out, nil
		},
	})
}
