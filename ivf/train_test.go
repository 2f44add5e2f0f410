package ivf

import (
	"context"
	"testing"
)

// TestTrainProgress checks the stages Train reports: the coarse k-means
// iterations in order, then the codebook, and that the callback is not
// part of the configuration the index hands back.
func TestTrainProgress(t *testing.T) {
	const dim, n = 16, 2000
	data := clustered(n, dim, 16, 21)
	for _, enc := range []Encoding{Flat, SQ8, PQ} {
		type call struct {
			stage       string
			done, total int
		}
		var calls []call
		cfg := Config{Dim: dim, NList: 16, Encoding: enc, M: 4, Iterations: 5,
			Progress: func(stage string, done, total int) { calls = append(calls, call{stage, done, total}) }}
		x, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := x.Train(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		if x.Config().Progress != nil {
			t.Errorf("%v: Config keeps the progress callback", enc)
		}
		last, coarse := 0, 0
		for i, c := range calls {
			switch c.stage {
			case "coarse":
				if coarse != i || c.total != 5 || c.done != last+1 {
					t.Fatalf("%v: call %d %+v after %d coarse calls, last done %d", enc, i, c, coarse, last)
				}
				coarse++
				last = c.done
			case "codebook":
				if enc == Flat {
					t.Fatalf("%v: codebook stage reported", enc)
				}
				if c.total != 1 || c.done != i-coarse {
					t.Fatalf("%v: call %d %+v", enc, i, c)
				}
			default:
				t.Fatalf("%v: unknown stage %q", enc, c.stage)
			}
		}
		want := coarse
		if enc != Flat {
			want += 2
		}
		if coarse == 0 || len(calls) != want {
			t.Errorf("%v: %d calls, %d coarse: %+v", enc, len(calls), coarse, calls)
		}
	}
}
