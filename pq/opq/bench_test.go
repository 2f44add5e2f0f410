package opq

import (
	"context"
	"fmt"
	"testing"

	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/pq/internal/pqtest"
)

// BenchmarkTrain measures OPQ training (10 alternations) on 20,000
// correlated vectors.
func BenchmarkTrain(b *testing.B) {
	const n = 20000
	for _, dim := range []int{64, 128} {
		data := pqtest.Correlated(71, n, dim)
		b.Run(fmt.Sprintf("dim=%d/M=%d", dim, dim/8), func(b *testing.B) {
			for b.Loop() {
				o, _ := New(Config{PQ: pq.Config{Dim: dim, M: dim / 8, Seed: 1}, Iterations: 10})
				if err := o.Train(context.Background(), data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeBatch measures rotation plus PQ encoding throughput
// (op=encode, vectors/s) and one query's rotation and lookup table
// (op=table, which allocates nothing).
func BenchmarkEncodeBatch(b *testing.B) {
	const n, dim = 20000, 128
	data := pqtest.Correlated(72, n, dim)
	o, _ := New(Config{PQ: pq.Config{Dim: dim, M: 16, Seed: 1, Iterations: 4}, Iterations: 2, FirstPQIterations: 4})
	if err := o.Train(context.Background(), data); err != nil {
		b.Fatal(err)
	}
	codes := make([]byte, n*o.CodeSize())
	b.Run("op=encode", func(b *testing.B) {
		for b.Loop() {
			if err := o.EncodeBatch(context.Background(), codes, data); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*n/b.Elapsed().Seconds(), "vectors/s")
	})
	table := make([]float32, 0, o.PQ().TableSize())
	b.Run("op=table", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			table, _ = o.LookupTable(table, data[:dim])
		}
	})
}
