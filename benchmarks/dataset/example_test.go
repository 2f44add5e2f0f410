package dataset_test

import (
	"bytes"
	"fmt"

	"github.com/nearkit/nearkit/benchmarks/dataset"
)

func Example() {
	var buf bytes.Buffer
	// Two 3-dimensional vectors in texmex .fvecs layout.
	if err := dataset.WriteFvecs(&buf, []float32{1, 2, 3, 4, 5, 6}, 3); err != nil {
		panic(err)
	}
	data, dim, err := dataset.ReadFvecs(&buf, "example.fvecs", 0)
	fmt.Println(data, dim, err)

	// A truncated file is rejected with its name and the byte offset.
	_, _, err = dataset.ReadFvecs(bytes.NewReader([]byte{3, 0, 0, 0, 1, 2}), "short.fvecs", 0)
	fmt.Println(err)
	// Output:
	// [1 2 3 4 5 6] 3 <nil>
	// short.fvecs: offset 4: row 0 truncated: 2 of 12 bytes
}
