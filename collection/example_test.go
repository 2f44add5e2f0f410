package collection_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/nearkit/nearkit/collection"
)

// A collection of products with string keys and metadata, queried with a
// filter, closed and reopened from its directory.
func Example() {
	dir, err := os.MkdirTemp("", "collection-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cfg := collection.Config{Dim: 2, Index: collection.Flat()}
	c, err := collection.Open(ctx, dir, cfg)
	if err != nil {
		log.Fatal(err)
	}
	doc := func(key, category string, price float64, x, y float32) collection.Document {
		return collection.Document{Key: key, Vector: []float32{x, y}, Metadata: map[string]collection.Value{
			"category": collection.String(category), "price": collection.Number(price),
		}}
	}
	err = c.Upsert(ctx,
		doc("trail-runner", "shoes", 120, 0.9, 0.1),
		doc("canvas-sneaker", "shoes", 45, 0.8, 0.3),
		doc("flip-flop", "shoes", 12, 0.2, 0.9),
		doc("rain-jacket", "coats", 90, 0.85, 0.2),
	)
	if err != nil {
		log.Fatal(err)
	}
	c.Close() // every Upsert was durable when it returned

	c, err = collection.Open(ctx, dir, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	hits, err := c.Query(ctx, []float32{1, 0}, 2, collection.Where(collection.And(
		collection.Eq("category", collection.String("shoes")),
		collection.Less("price", 50),
	)), collection.WithMetadata())
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hits {
		fmt.Println(h.Key, h.Metadata["price"])
	}
	// Output:
	// canvas-sneaker 45
	// flip-flop 12
}
