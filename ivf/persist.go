package ivf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/internal/binfmt"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/pq/opq"
	"github.com/nearkit/nearkit/scalar"
)

const (
	magic   = "NKIVF"
	version = 1
	// maxBlob bounds an embedded codec stream.
	maxBlob = 1 << 34
)

// WriteTo writes the index in the ivf file format, version 1, through the
// checksummed little-endian framing of internal/binfmt:
//
//	magic    [8]byte "NKIVF\x00\x00\x00"
//	version  uint32  1
//	config   dim u32, metric u8, nlist u32, encoding u8, m u32, opq u8,
//	         coarse u8, nprobe u32, rerank u32, keepVectors u8,
//	         pointsPerList u32, iterations u32, seed u64
//	trained  uint8   0 or 1; when 0 the stream ends here
//	centroids [nlist*dim]float32
//	codec    uint64 length, then the SQ8, PQ or OPQ stream (length 0 for Flat)
//	count    uint64  number of vectors n
//	lists    nlist × (len uint64, zeros to a multiple of 8 bytes,
//	         ids [len]uint64, codes, zeros to a multiple of 4, vectors)
//	crc      uint32  CRC-32C of everything before it
//
// The padding (offsets from the start of the stream) lets Open use a
// mapped file's IDs and vectors in place. A list's codes are len×CodeSize bytes (PQFastScan: ⌈len/32⌉ blocks); its
// vectors len×dim float32s for Flat and KeepVectors, as stored (normalised
// for Cosine). The precomputed tables and the coarse graph are rebuilt on
// reading. WriteTo holds the read lock while writing.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	c := &x.cfg
	cw := &countingWriter{w: w}
	bw := binfmt.NewWriter(cw, magic, version)
	pad := func(align int64) {
		var zero [8]byte
		bw.Bytes(zero[:padding(cw.n, align)])
	}
	bw.U32(uint32(c.Dim))
	bw.U8(uint8(c.Metric))
	bw.U32(uint32(c.NList))
	bw.U8(uint8(c.Encoding))
	bw.U32(uint32(c.M))
	bw.U8(b2u(c.OPQ))
	bw.U8(uint8(c.Coarse))
	bw.U32(uint32(c.NProbe))
	bw.U32(uint32(c.Rerank))
	bw.U8(b2u(c.KeepVectors))
	bw.U32(uint32(c.PointsPerList))
	bw.U32(uint32(c.Iterations))
	bw.U64(c.Seed)
	bw.U8(b2u(x.trained))
	if x.trained {
		bw.Float32s(x.centroids)
		var blob bytes.Buffer
		var err error
		switch {
		case x.sq != nil:
			_, err = x.sq.WriteTo(&blob)
		case x.opq != nil:
			_, err = x.opq.WriteTo(&blob)
		case x.pq != nil:
			_, err = x.pq.WriteTo(&blob)
		}
		if err != nil {
			return 0, fmt.Errorf("ivf: writing codec: %w", err)
		}
		bw.U64(uint64(blob.Len()))
		bw.Bytes(blob.Bytes())
		bw.U64(uint64(x.n))
		for i := range x.lists {
			l := &x.lists[i]
			bw.U64(uint64(len(l.ids)))
			pad(8)
			bw.Uint64s(l.ids)
			bw.Bytes(l.codes)
			pad(4)
			bw.Float32s(l.vecs)
		}
	}
	return bw.Finish()
}

// countingWriter tracks the stream offset, for the padding.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func padding(off, align int64) int64 { return (align - off%align) % align }

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// Save writes the index to path crash-safely (nearkit.SaveFile).
func (x *Index) Save(path string) error { return nearkit.SaveFile(path, x) }

// Load reads an index saved by Save.
func Load(path string) (*Index, error) { return binfmt.LoadFile(path, Read) }

// Read decodes an index written by WriteTo. Every count is checked
// against the configuration and the data read so far before it sizes an
// allocation, so corrupt or forged input yields an error wrapping
// nearkit.ErrCorrupt or nearkit.ErrIncompatible, never a panic.
func Read(r io.Reader) (*Index, error) {
	br, err := binfmt.NewReader(r, magic, version)
	if err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	return decode(br)
}

// decoder is what decode reads from: a binfmt.Reader copying from a
// stream, or a view of a mapped file (Open).
type decoder interface {
	U8() uint8
	U32() uint32
	U64() uint64
	Count(what string, max uint64) int
	Bytes(n int) []byte
	Float32s(n int) []float32
	Uint64s(n int) []uint64
	Offset() int64
	Fail(format string, args ...any)
	Err() error
	Finish() error
}

// decode reads an index after the header.
func decode(br decoder) (*Index, error) {
	skipPad := func(align int64) {
		for _, b := range br.Bytes(int(padding(br.Offset(), align))) {
			if b != 0 {
				br.Fail("non-zero padding")
			}
		}
	}
	var cfg Config
	cfg.Dim = int(br.U32())
	cfg.Metric = distance.Metric(br.U8())
	cfg.NList = int(br.U32())
	cfg.Encoding = Encoding(br.U8())
	cfg.M = int(br.U32())
	cfg.OPQ = br.U8() != 0
	cfg.Coarse = Coarse(br.U8())
	cfg.NProbe = int(br.U32())
	cfg.Rerank = int(br.U32())
	cfg.KeepVectors = br.U8() != 0
	cfg.PointsPerList = int(br.U32())
	cfg.Iterations = int(br.U32())
	cfg.Seed = br.U64()
	trained := br.U8()
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	if err := cfg.validate(); err != nil || cfg.Coarse == CoarseAuto || cfg.NProbe < 1 || trained > 1 {
		return nil, fmt.Errorf("%w: ivf: stored configuration out of range (%v)", nearkit.ErrCorrupt, err)
	}
	x, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: ivf: %v", nearkit.ErrCorrupt, err)
	}
	if trained == 0 {
		if err := br.Finish(); err != nil {
			return nil, fmt.Errorf("ivf: %w", err)
		}
		return x, nil
	}
	dim := cfg.Dim
	centroids := br.Float32s(cfg.NList * dim)
	blob := br.Bytes(br.Count("codec length", maxBlob))
	if err := br.Err(); err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	if check.Vectors(centroids, dim) != nil {
		return nil, fmt.Errorf("%w: ivf: centroids hold NaN or Inf", nearkit.ErrCorrupt)
	}
	x.lists = make([]list, cfg.NList)
	sq, pqz, opq, err := readCodec(&cfg, blob)
	if err != nil {
		return nil, err
	}
	total := br.Count("vector count", math.MaxUint32)
	cs := cfg.codeSize()
	nPairs := pq.FastScanPairs(cfg.M)
	seen := 0
	for li := range x.lists {
		n := br.Count("list length", uint64(total-seen))
		skipPad(8)
		if br.Err() != nil {
			break
		}
		seen += n
		l := &x.lists[li]
		l.ids = br.Uint64s(n)
		switch cfg.Encoding {
		case Flat:
		case PQFastScan:
			l.codes = br.Bytes((n + 31) / 32 * nPairs * 32)
		default:
			l.codes = br.Bytes(n * cs)
		}
		skipPad(4)
		if cfg.Encoding == Flat || cfg.KeepVectors {
			l.vecs = br.Float32s(n * dim)
			if br.Err() == nil && check.Vectors(l.vecs, dim) != nil {
				br.Fail("list %d holds NaN or Inf", li)
			}
		}
	}
	if br.Err() == nil && seen != total {
		br.Fail("lists hold %d vectors, header says %d", seen, total)
	}
	if err := br.Finish(); err != nil {
		return nil, fmt.Errorf("ivf: %w", err)
	}
	x.n = total
	if err := x.checkStoredIDs(); err != nil {
		return nil, err
	}
	cnorm := make([]float32, cfg.NList)
	for i := range cnorm {
		c := centroids[i*dim : (i+1)*dim]
		cnorm[i] = distance.Dot(c, c)
	}
	var precomp []float32
	if pqz != nil && cfg.Metric == distance.L2 {
		precomp = precomputeTables(pqz, opq, centroids, dim)
	}
	var graph *hnsw.Index
	if cfg.Coarse == CoarseHNSW {
		if graph, err = buildGraph(context.Background(), cfg, centroids); err != nil {
			return nil, err
		}
	}
	x.install(centroids, cnorm, graph, sq, pqz, opq, precomp)
	return x, nil
}

// readCodec decodes the embedded codec stream and checks it matches cfg.
func readCodec(cfg *Config, blob []byte) (*scalar.SQ8, *pq.ProductQuantizer, *opq.Quantizer, error) {
	bad := func(what string) error {
		return fmt.Errorf("%w: ivf: codec does not match the configuration: %s", nearkit.ErrCorrupt, what)
	}
	switch cfg.Encoding {
	case Flat:
		if len(blob) != 0 {
			return nil, nil, nil, bad("flat index with a codec")
		}
		return nil, nil, nil, nil
	case SQ8:
		sq, err := scalar.ReadSQ8(bytes.NewReader(blob))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ivf: %w", err)
		}
		if sq.Dim() != cfg.Dim || sq.Metric() != cfg.Metric || !sq.Trained() {
			return nil, nil, nil, bad("SQ8")
		}
		return sq, nil, nil, nil
	}
	var (
		p   *pq.ProductQuantizer
		rot *opq.Quantizer
		err error
	)
	if cfg.OPQ {
		if rot, err = opq.Read(bytes.NewReader(blob)); err == nil {
			if !rot.Trained() {
				return nil, nil, nil, bad("untrained OPQ")
			}
			p = rot.PQ()
		}
	} else {
		p, err = pq.Read(bytes.NewReader(blob))
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("ivf: %w", err)
	}
	nbits := 8
	if cfg.Encoding == PQFastScan {
		nbits = 4
	}
	if !p.Trained() || p.Dim() != cfg.Dim || p.M() != cfg.M || p.NBits() != nbits {
		return nil, nil, nil, bad("PQ")
	}
	return nil, p, rot, nil
}
