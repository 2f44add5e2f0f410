package pq

import (
	"context"
	"fmt"
	"testing"

	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

// BenchmarkTrain measures PQ training on 65,536×128 correlated vectors.
func BenchmarkTrain(b *testing.B) {
	const n, dim = 65536, 128
	data := pqtest.Correlated(51, n, dim)
	for _, c := range []struct{ m, nbits int }{{16, 8}, {32, 4}} {
		b.Run(fmt.Sprintf("M=%d/nbits=%d", c.m, c.nbits), func(b *testing.B) {
			for b.Loop() {
				p, _ := New(Config{Dim: dim, M: c.m, NBits: c.nbits, Seed: 1})
				if err := p.Train(context.Background(), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode measures EncodeBatch throughput (vectors/s).
func BenchmarkEncode(b *testing.B) {
	const n, dim = 20000, 128
	data := pqtest.Correlated(52, n, dim)
	for _, c := range []struct{ m, nbits int }{{16, 8}, {32, 4}} {
		p, _ := New(Config{Dim: dim, M: c.m, NBits: c.nbits, Seed: 1, Iterations: 4})
		if err := p.Train(context.Background(), data); err != nil {
			b.Fatal(err)
		}
		codes := make([]byte, n*p.CodeSize())
		b.Run(fmt.Sprintf("M=%d/nbits=%d", c.m, c.nbits), func(b *testing.B) {
			for b.Loop() {
				if err := p.EncodeBatch(context.Background(), codes, data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}

// BenchmarkADC measures ProductQuantizer.Distances over 8-bit and packed
// 4-bit codes (codes/s), the non-fast-scan paths.
func BenchmarkADC(b *testing.B) {
	const n, dim = 1 << 16, 128
	data := pqtest.Correlated(53, 4096, dim)
	for _, c := range []struct{ m, nbits int }{{16, 8}, {16, 4}} {
		p, _ := New(Config{Dim: dim, M: c.m, NBits: c.nbits, Seed: 1, Iterations: 2})
		if err := p.Train(context.Background(), data); err != nil {
			b.Fatal(err)
		}
		codes := make([]byte, n*p.CodeSize())
		for i := range codes {
			codes[i] = byte(i * 131)
		}
		table, _ := p.LookupTable(nil, data[:dim])
		out := make([]float32, n)
		b.Run(fmt.Sprintf("M=%d/nbits=%d", c.m, c.nbits), func(b *testing.B) {
			for b.Loop() {
				p.Distances(table, codes, out)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "codes/s")
		})
	}
}
