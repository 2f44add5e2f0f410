package distance_test

import (
	"fmt"

	"github.com/nearkit/nearkit/distance"
)

func Example() {
	a := []float32{1, 2, 3, 4}
	b := []float32{2, 2, 1, 4}
	fmt.Println(distance.SquaredL2(a, b), distance.Dot(a, b))

	// Score one query against three stored rows of dimension 2.
	data := []float32{
		0, 0,
		3, 4,
		1, 1,
	}
	out := make([]float32, 3)
	distance.SquaredL2Batch([]float32{0, 0}, data, 2, out)
	fmt.Println(out)

	// A graph search scores the rows it visits, in its own order.
	distance.SquaredL2Gather([]float32{0, 0}, data, 2, []uint32{2, 1}, out[:2])
	fmt.Println(out[:2])
	// Output:
	// 5 25
	// [0 25 2]
	// [2 25]
}

func ExampleMetric_Kernels() {
	k := distance.InnerProduct.Kernels()
	// Smaller is closer for every metric: the inner product is negated.
	fmt.Println(k.Distance([]float32{1, 2}, []float32{3, 4}))
	// Output: -11
}

func ExampleCosineDistance() {
	fmt.Println(distance.CosineDistance([]float32{1, 0}, []float32{0, 5}))
	fmt.Println(distance.CosineDistance([]float32{1, 1}, []float32{2, 2}))
	// A zero vector is defined to be orthogonal to everything.
	fmt.Println(distance.CosineDistance([]float32{0, 0}, []float32{1, 1}))
	// Output:
	// 1
	// 0
	// 1
}

func ExampleNormalize() {
	v := []float32{3, 4}
	n := distance.Normalize(v)
	fmt.Println(n, v)
	// Output: 5 [0.6 0.8]
}

func ExampleDotUint8() {
	// 8-bit scalar codes are compared exactly, in integers.
	fmt.Println(distance.DotUint8([]uint8{255, 1, 2}, []uint8{255, 3, 4}))
	fmt.Println(distance.SquaredL2Int8([]int8{-128, 5}, []int8{127, 5}))
	// Output:
	// 65036
	// 65025
}

func ExamplePQLookupSum() {
	// Two subquantizers with 256 centroids each: the table holds the
	// query's distance to every centroid, sub-table j at [j*256, (j+1)*256).
	table := make([]float32, 2*256)
	table[7] = 1.5       // subquantizer 0, centroid 7
	table[256+200] = 0.5 // subquantizer 1, centroid 200
	fmt.Println(distance.PQLookupSum(table, []uint8{7, 200}))
	// Output: 2
}

func ExampleImplementation() {
	switch distance.Implementation() {
	case "avx512", "avx2", "neon", "generic":
		fmt.Println("known implementation")
	}
	// Output: known implementation
}

func ExampleSquaredL2Float16() {
	// Stored vectors in half precision (IEEE binary16 bits), e.g. from a
	// float16 scalar codec; the query stays float32.
	stored := []uint16{0x3c00, 0x4000, 0xc200} // 1, 2, -3
	q := []float32{1, 2, 3}
	fmt.Println(distance.SquaredL2Float16(q, stored), distance.DotFloat16(q, stored))
	// Output: 36 -4
}
