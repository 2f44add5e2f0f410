package pq

import (
	"slices"
)

func exactDot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// topK returns the indices of the k smallest dist(i), ties by index.
func topK(n, k int, dist func(i int) float64) []int {
	idx := make([]int, n)
	d := make([]float64, n)
	for i := range n {
		idx[i], d[i] = i, dist(i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if d[a] < d[b] {
			return -1
		}
		if d[a] > d[b] {
			return 1
		}
		return 0
	})
	return idx[:k]
}
