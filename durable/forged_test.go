package durable

import (
	"io"
	"math"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/internal/record"
)

// TestForgedIndexRecords replays well-formed records an attacker could
// write with their checksums recomputed into an Index's log: IDs at the
// top of the uint64 range are an index's own business (its IDs are the
// caller's, kept in a map, so they cost what any ID costs), and a batch
// claiming more vectors than its bytes hold is refused; neither may
// allocate beyond a small multiple of the record's bytes.
func TestForgedIndexRecords(t *testing.T) {
	vec := make([]float32, testDim)
	add := func(op uint8, id uint64) []byte {
		b := record.AppendU64(record.AppendU8(nil, op), id)
		return record.AppendFloat32s(b, vec)
	}
	batch := record.AppendU32(record.AppendU8(nil, opAddBatch), math.MaxUint32)
	batch = record.AppendUint64s(batch, []uint64{math.MaxUint64})
	batch = record.AppendFloat32s(batch, vec)
	budget := attack.Budget{PerByte: 16, Fixed: 8 << 20}
	for _, kind := range []struct {
		name string
		cfg  Config
	}{{"flat", flatConfig(Options{})}, {"hnsw", hnswConfig(Options{})}} {
		replay := func(r io.Reader) error {
			rec, err := io.ReadAll(r)
			if err != nil {
				return err
			}
			x := &Index{cfg: kind.cfg}
			s := (*indexState)(x)
			if err := s.Restore(nil); err != nil {
				return err
			}
			return s.Replay(rec)
		}
		for _, c := range []struct {
			name    string
			rec     []byte
			wantErr bool
		}{
			{"add of the largest id", add(opAdd, math.MaxUint64), false},
			{"update of the largest id", add(opUpdate, math.MaxUint64), false},
			{"batch count beyond its bytes", batch, true},
		} {
			res := attack.Run(replay, c.rec)
			if c.wantErr {
				attack.Check(t, kind.name+": "+c.name, res, budget, true, nearkit.ErrCorrupt)
			} else if res.Err != nil {
				t.Fatalf("%s: %s: %v", kind.name, c.name, res.Err)
			} else {
				attack.Check(t, kind.name+": "+c.name, res, budget, false)
			}
		}
	}
}
