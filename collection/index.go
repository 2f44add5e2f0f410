package collection

import (
	"io"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
)

// IndexType builds a collection's index. The collection keys the index by
// dense internal IDs and asks it only for what nearkit.Index offers (plus
// Update, through durable.Updater, when it has one; else a replaced vector
// is a Delete and an Add), so any index of the module plugs in through an
// IndexType whose New returns an index able to take Adds from the first
// one: HNSW, Flat and IVF (which trains itself on the first vectors) are
// provided.
type IndexType struct {
	// Name identifies the type in snapshots: reopening a collection with
	// an IndexType of another name fails with nearkit.ErrIncompatible.
	Name string
	// New returns an empty index.
	New func(dim int, metric distance.Metric) (nearkit.Index, error)
	// Read decodes what the index's WriteTo wrote.
	Read func(r io.Reader) (nearkit.Index, error)
}

// hnswDefaults is the HNSW configuration of a zero Config.Index.
var hnswDefaults = hnsw.Config{}

// HNSW returns the HNSW index type with cfg's parameters (its Dim and
// Metric are the collection's).
func HNSW(cfg hnsw.Config) IndexType {
	return IndexType{
		Name: "hnsw",
		New: func(dim int, m distance.Metric) (nearkit.Index, error) {
			c := cfg
			c.Dim, c.Metric = dim, m
			return hnsw.New(c)
		},
		Read: func(r io.Reader) (nearkit.Index, error) { return hnsw.Read(r) },
	}
}

// Flat returns the exact index type.
func Flat() IndexType {
	return IndexType{
		Name: "flat",
		New: func(dim int, m distance.Metric) (nearkit.Index, error) {
			return flat.New(flat.Config{Dim: dim, Metric: m})
		},
		Read: func(r io.Reader) (nearkit.Index, error) { return flat.Read(r) },
	}
}
