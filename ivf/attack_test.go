package ivf

import (
	"bytes"
	"io"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// readIndex is Read as an attack.Reader.
func readIndex(r io.Reader) error {
	_, err := Read(r)
	return err
}

// TestReadHostile feeds Read every truncation and bit flip (a sample under
// -short) of saved indexes of each encoding: each must be refused with an
// error, without a panic and without allocating beyond what it read.
func TestReadHostile(t *testing.T) {
	data, _ := testData()
	most := 400
	if testing.Short() {
		most = 60
	}
	for _, cfg := range []Config{
		{Encoding: Flat},
		{Encoding: SQ8},
		{Encoding: PQ, M: 8, KeepVectors: true},
		{Encoding: PQFastScan, M: 16},
	} {
		t.Run(cfg.Encoding.String(), func(t *testing.T) {
			cfg.Dim, cfg.NList = tDim, 4
			x := build(t, cfg, data[:300*tDim])
			var buf bytes.Buffer
			if _, err := x.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			attack.Stream(t, readIndex, buf.Bytes(), forgedBudget, most, nearkit.ErrCorrupt, nearkit.ErrIncompatible, io.ErrUnexpectedEOF, io.EOF)
		})
	}
}

// forgedHeader is the start of a trained Flat file for dim and nlist whose
// centroids are zeros, then a list count n and a first list of length
// first, then nothing: a file that claims far more than it holds.
func forgedHeader(dim, nlist int, centroids bool, n, first uint64) []byte {
	var buf bytes.Buffer
	w := binfmt.NewWriter(&buf, magic, version)
	w.U32(uint32(dim))
	w.U8(uint8(distance.L2))
	w.U32(uint32(nlist))
	w.U8(uint8(Flat))
	w.U32(0)
	w.U8(0)
	w.U8(uint8(CoarseFlat))
	w.U32(1)
	w.U32(0)
	w.U8(0)
	w.U32(DefaultPointsPerList)
	w.U32(25)
	w.U64(1)
	w.U8(1)
	if centroids {
		w.Float32s(make([]float32, dim*nlist))
		w.U64(0) // no codec
		w.U64(n)
		w.U64(first)
	}
	w.Finish()
	return buf.Bytes()
}

// forgedBudget allows binfmt's first read chunk (2^20 elements, 4 MiB of
// float32s; twice that under -race, where append(out, make(…)...) is not
// folded into one allocation) and the small decoding state beside it.
var forgedBudget = attack.Budget{Fixed: 9 << 20}

// TestReadForgedCounts: headers whose centroid table, vector count or
// list length describe terabytes are refused having allocated about what
// the stream held.
func TestReadForgedCounts(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"centroids", forgedHeader(MaxDim, MaxNList, false, 0, 0)},
		{"count", forgedHeader(64, 16, true, 1<<60, 0)},
		{"list", forgedHeader(64, 16, true, 1<<20, 1<<40)},
		{"list-fits-count", forgedHeader(64, 16, true, 1<<40, 1<<40)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := attack.Run(readIndex, tc.data)
			attack.Check(t, tc.name, res, forgedBudget, true)
		})
	}
	// The real thing still reads.
	data, _ := testData()
	x := build(t, Config{Dim: tDim, NList: 4}, data[:100*tDim])
	var buf bytes.Buffer
	x.WriteTo(&buf)
	if _, err := Read(&buf); err != nil {
		t.Fatal(err)
	}
}
