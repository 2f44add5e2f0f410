package httpnode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
)

// Wire format: every body is little-endian, without padding.
//
//	search request:  k u32, ef u32, nprobe u32, rerank u32, nshards u32,
//	                 dim u32, shards [nshards]u32, query [dim]f32
//	search response: n u32, n × (id u64, distance f32)
//	vectors (add, import): n u32, dim u32, ids [n]u64, vecs [n*dim]f32
//	ids (delete):    n u32, ids [n]u64
//	held response:   n u32, shards [n]u32
//	export response: frames of vectors; a frame with n = 0 ends the
//	                 stream, one with n = errFrame carries an error message
//	                 (len u32, bytes) and ends it.
//
// A stream cut short has no end frame, so truncation is always detected.

// errFrame marks an error frame in an export stream.
const errFrame = math.MaxUint32

// Error codes in the X-Nearkit-Error response header, so that the client
// returns the node's sentinel errors.
var errorCodes = []struct {
	code   string
	err    error
	status int
}{
	{"dimension", nearkit.ErrDimension, 400},
	{"invalid-vector", nearkit.ErrInvalidVector, 400},
	{"invalid-k", nearkit.ErrInvalidK, 400},
	{"invalid-config", nearkit.ErrInvalidConfig, 400},
	{"duplicate-id", nearkit.ErrDuplicateID, 409},
	{"shard-not-held", cluster.ErrShardNotHeld, 404},
	{"corrupt", nearkit.ErrCorrupt, 400},
	{"too-large", ErrTooLarge, 413},
	{"bad-request", ErrBadRequest, 400},
}

// ErrBadRequest: a request the node could not parse.
var ErrBadRequest = errors.New("httpnode: bad request")

// ErrTooLarge: a request over the handler's size or k limits.
var ErrTooLarge = errors.New("httpnode: request too large")

// reader decodes a body, failing once on the first short read.
type reader struct {
	b   []byte
	err error
}

func (r *reader) u32() uint32 {
	if r.err != nil || len(r.b) < 4 {
		r.fail()
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = fmt.Errorf("%w: body truncated", ErrBadRequest)
	}
	r.b = nil
}

// need reports whether n items of size bytes remain, without overflow.
func (r *reader) need(n uint64, size uint64) bool {
	if r.err != nil || n > uint64(len(r.b))/size {
		r.fail()
		return false
	}
	return true
}

func (r *reader) u64s(n uint64) []uint64 {
	if !r.need(n, 8) {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(r.b[i*8:])
	}
	r.b = r.b[n*8:]
	return out
}

func (r *reader) u32s(n uint64) []int {
	if !r.need(n, 4) {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(binary.LittleEndian.Uint32(r.b[i*4:]))
	}
	r.b = r.b[n*4:]
	return out
}

func (r *reader) f32s(n uint64) []float32 {
	if !r.need(n, 4) {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[i*4:]))
	}
	r.b = r.b[n*4:]
	return out
}

// done fails when bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: %d trailing bytes", ErrBadRequest, len(r.b))
	}
	return r.err
}

func putU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func putU64s(b []byte, v []uint64) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

func putF32s(b []byte, v []float32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func encodeVectors(b []byte, ids []uint64, vecs []float32, dim int) []byte {
	b = putU32(b, uint32(len(ids)))
	b = putU32(b, uint32(dim))
	b = putU64s(b, ids)
	return putF32s(b, vecs)
}

// decodeVectors reads a vectors body of dimension dim.
func decodeVectors(r *reader, dim int) ([]uint64, []float32, error) {
	n, d := r.u32(), r.u32()
	if r.err == nil && int(d) != dim {
		return nil, nil, fmt.Errorf("%w: vectors of dimension %d, node has %d", nearkit.ErrDimension, d, dim)
	}
	ids := r.u64s(uint64(n))
	vecs := r.f32s(uint64(n) * uint64(d))
	if err := r.done(); err != nil {
		return nil, nil, err
	}
	return ids, vecs, nil
}

func float32frombits(b uint32) float32 { return math.Float32frombits(b) }
