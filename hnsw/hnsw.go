// Package hnsw is a hierarchical navigable small-world graph index
// (Malkov & Yashunin, "Efficient and robust approximate nearest neighbor
// search using Hierarchical Navigable Small World graphs", TPAMI 2018), the
// graph hnswlib builds, in pure Go.
//
// Each vector gets a random level ℓ with P(ℓ ≥ L) = M^-L. On its levels
// above 0 a node keeps at most M links, on level 0 at most 2M. A search
// descends greedily through the upper levels from the entry point (the node
// with the highest level) and then runs a beam search of width ef on level
// 0. Neighbours are chosen by the paper's heuristic: a candidate is kept
// only if it is closer to the new node than to every neighbour already
// kept, which keeps links pointing in diverse directions; the same
// heuristic shrinks a neighbour's list when a back-link overflows it.
//
// Storage has no per-node heap objects: each node's vector and level-0
// link list sit together in one cache-line-aligned record, records live in
// fixed-size chunks of 4–8 MB backed by transparent huge pages where Linux
// allows (a slot number selects the chunk by its high bits, so growth
// never copies), and upper-level lists in a chunked pool of uint32 words
// used only by the few nodes with a level above 0. After a bulk load,
// Optimize renumbers the records in graph order so that linked nodes are
// neighbours in memory too (layout.go, optimize.go).
//
// A living index: Delete leaves a tombstone that still routes searches;
// Vacuum (run by Add when tombstones pile up) unlinks tombstones, repairs
// their neighbours' lists and frees their slots for reuse, so steady
// inserts and deletes neither grow memory nor lose recall; Update replaces
// a vector (delete.go, update.go). WriteTo, Read, ReadFrom, Save and Load
// persist the index in a versioned, checksummed format (persist.go); Open
// memory-maps a saved file for read-only serving without copying it to
// the heap, checking the checksums of its small sections — header, IDs,
// tombstones, links — on every open and those of the vectors and codes
// on request (open.go, sections.go).
//
// What Open's checks cost, measured with hnsw/_bench/open on Fashion-MNIST
// (60,000 vectors of dim 784, M=16; a 187 MB file, 232 MB with SQ8) with
// the file in the page cache, on a loaded 2-core AMD EPYC (medians of 15):
// Open with default options 12.7 ms (14.4 ms with SQ8), of which the
// section checksums — 8 MB of header, IDs, tombstones and links — take
// about 1 ms; the same index in a version-2 file, which has no section
// checksums, opens in 10–11 ms. VerifyChecksum reads the whole file twice
// (the file's checksum and the sections') and checks every vector: 125 ms
// (112 ms with SQ8), close to Load (100–125 ms), which copies it all to
// the heap. The default checks grow with the number of vectors and M, not
// with the dimension; VerifyChecksum grows with the file.
//
// Concurrency: every method is safe for concurrent use with every other.
// Searches take no locks: link words are read and written with sync/atomic
// (a plain load on amd64 and arm64), a node's vector and links are
// complete before any other node links to it, writers lock one node at a
// time to change its list, and a slot is reused only after a grace period
// in which no search can still read it.
//
// Where things are: hnsw.go (Config, Index), insert.go (Add, AddBatch,
// linking), search.go (Search, SearchBatch), walk.go (the one greedy
// descent and beam search), scorer.go (what the walk scores: float32
// vectors or SQ8 codes), quantized.go (SQ8 training, encoding,
// re-ranking), qgraph.go, qgraph_search.go and qgraph_persist.go (the
// QGraph mode: neighbour codes in fast-scan blocks per node, its walk,
// its file sections), filter.go (filtered search strategies), delete.go (Delete,
// Vacuum), update.go (Update), lifecycle.go (grace periods, Close),
// storage.go and layout.go (chunks, records, link lists), optimize.go
// (Optimize), persist.go (the file format, Read, WriteTo), open.go (Open),
// sections.go (the file's sections and their checksums).
package hnsw

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
)

// Defaults applied to zero Config fields.
const (
	DefaultM              = 16
	DefaultEfConstruction = 200
	// DefaultEfSearch is the beam width of a search whose SearchOptions.Ef
	// is 0. 64 gives recall@10 around 0.99 on typical embedding sets at M=16.
	DefaultEfSearch = 64
)

// Limits enforced by New and by Read.
const (
	MaxDim = 1 << 16
	MaxM   = 2048
	// MaxCapacityHint is the most vectors Config.Capacity pre-sizes for
	// (an ID map of about 40 MB).
	MaxCapacityHint = 1 << 20
	MaxEf           = 1 << 20
	// maxLevel caps the random level. With M ≥ 2 a level above 31 has
	// probability below 2⁻³¹ per node, and the cap keeps a node's upper
	// lists (maxLevel·(M+1) words) inside one pool chunk.
	maxLevel = 31
	// maxSlots bounds the slot space so a slot fits a uint32 with room for
	// the "no node" value.
	maxSlots = math.MaxUint32 - 1
)

// Config configures an Index. The zero value of every field but Dim means
// the default.
type Config struct {
	// Dim is the vector dimension (required, 1…MaxDim).
	Dim int
	// Metric is the distance; the zero value is distance.L2. With
	// distance.Cosine vectors and queries are normalised to unit length.
	Metric distance.Metric
	// M is the number of links per node on the levels above 0; level 0
	// gets 2M. Default 16, range 2…MaxM.
	M int
	// EfConstruction is the beam width used while inserting; larger builds
	// a better graph more slowly. Default 200. Values below M are raised to
	// M, as hnswlib does.
	EfConstruction int
	// EfSearch is the beam width of a search whose SearchOptions.Ef is 0.
	// Default 64 (DefaultEfSearch). A search always uses at least k.
	EfSearch int
	// Seed seeds the level generator. Single-threaded builds (Add called
	// sequentially, or AddBatch with GOMAXPROCS=1) are deterministic for a
	// given seed and insertion order.
	Seed uint64
	// Capacity is an optional hint of the number of vectors to come; it
	// pre-sizes the ID map and the chunk directory for up to
	// MaxCapacityHint vectors (beyond that they grow as vectors arrive, so
	// a large hint never allocates before the data does), and a small
	// Capacity makes storage grow in smaller steps (by default about 4–8
	// MB, which lets large indexes use huge pages).
	Capacity int
	// Quantization selects how the graph search reads vectors: NoQuantization
	// (the default, full float32) or SQ8 (8-bit codes searched with the
	// distance package's uint8 kernels, final candidates re-ranked with the
	// float32 vectors). See quantized.go.
	Quantization Quantization
	// QGraphSubspaces is the number of 4-bit subquantizers of a QGraph
	// index's codes (a divisor of Dim, at most 256); 0 picks two
	// dimensions per subquantizer up to 256 dimensions, four beyond.
	// Other modes require 0.
	QGraphSubspaces int
}

// Index is an HNSW graph index. It implements nearkit.Index and
// nearkit.StatsSearcher. All methods are safe for concurrent use; Search
// never blocks on Add.
type Index struct {
	dim     int
	metric  distance.Metric
	dist    func(a, b []float32) float32
	m, m0   int
	efc     int
	efs     int
	seed    uint64
	mult    float64
	stride0 int // words per level-0 list: count + 2M ids
	strideU int // words per upper list: count + M ids
	vstride int // words from one slot's vector to the next (layout.go)
	lstride int // words from one slot's level-0 list to the next
	shift   uint
	mask    uint32

	dir   atomic.Pointer[directory]
	pool  atomic.Pointer[upperPool]
	entry atomic.Uint64 // packEntry(slot, level) or emptyEntry

	growMu   sync.Mutex // slot, chunk and pool allocation
	nslots   atomic.Uint32
	poolUsed int // words used in the last pool chunk (growMu)

	epMu sync.Mutex // entry point and max level changes

	idMu     sync.RWMutex
	ids      map[uint64]uint32
	ndeleted atomic.Int64 // tombstoned slots

	rngMu sync.Mutex
	pcg   *rand.PCG
	rng   *rand.Rand

	// writeMu is held shared by mutations and exclusively by WriteTo, so a
	// snapshot never sees half an insertion.
	writeMu sync.RWMutex

	scratch sync.Pool

	life lifecycle // deletion, slot reuse, Close, read-only mode (lifecycle.go)

	quant *quantState // nil unless Config.Quantization is SQ8
	qg    *qgState    // nil unless Config.Quantization is QGraph (qgraph.go)

	// filterPath forces a filter strategy (filterExact, filterGraph): a
	// hook for tests, set before the index is shared; 0 in every index
	// users make.
	filterPath int
}

var (
	_ nearkit.Index         = (*Index)(nil)
	_ nearkit.StatsSearcher = (*Index)(nil)
)

// New returns an empty index. It returns an error wrapping
// nearkit.ErrInvalidConfig when a field is out of range.
func New(cfg Config) (*Index, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	x := newIndex(cfg)
	x.pcg = rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15)
	x.rng = rand.New(x.pcg)
	return x, nil
}

func (c *Config) fill() error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: hnsw: "+f, append([]any{nearkit.ErrInvalidConfig}, args...)...)
	}
	if c.Dim < 1 || c.Dim > MaxDim {
		return bad("Dim=%d out of range [1,%d]", c.Dim, MaxDim)
	}
	if !c.Metric.Valid() {
		return bad("unknown metric %v", c.Metric)
	}
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.M < 2 || c.M > MaxM {
		return bad("M=%d out of range [2,%d]", c.M, MaxM)
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
	}
	if c.EfConstruction < 1 || c.EfConstruction > MaxEf {
		return bad("EfConstruction=%d out of range [1,%d]", c.EfConstruction, MaxEf)
	}
	c.EfConstruction = max(c.EfConstruction, c.M)
	if c.EfSearch == 0 {
		c.EfSearch = DefaultEfSearch
	}
	if c.EfSearch < 1 || c.EfSearch > MaxEf {
		return bad("EfSearch=%d out of range [1,%d]", c.EfSearch, MaxEf)
	}
	if c.Capacity < 0 || uint64(c.Capacity) > maxSlots {
		return bad("Capacity=%d out of range", c.Capacity)
	}
	if !c.Quantization.valid() {
		return bad("unknown Quantization %d", c.Quantization)
	}
	if c.Quantization == QGraph {
		if c.QGraphSubspaces == 0 {
			c.QGraphSubspaces = defaultQGSubspaces(c.Dim)
		}
		if err := checkQGSubspaces(c.QGraphSubspaces, c.Dim); err != nil {
			return bad("%v", err)
		}
	} else if c.QGraphSubspaces != 0 {
		return bad("QGraphSubspaces=%d without QGraph quantization", c.QGraphSubspaces)
	}
	return nil
}

// newIndex builds the index skeleton from a filled, valid config; New and
// Read set up the level generator.
func newIndex(cfg Config) *Index {
	x := new(Index)
	x.init(cfg)
	return x
}

// init sets up an unused (zero) Index; ReadFrom decodes into one.
func (x *Index) init(cfg Config) {
	*x = Index{
		dim:     cfg.Dim,
		metric:  cfg.Metric,
		dist:    cfg.Metric.Kernels().Distance,
		m:       cfg.M,
		m0:      2 * cfg.M,
		efc:     cfg.EfConstruction,
		efs:     cfg.EfSearch,
		seed:    cfg.Seed,
		mult:    1 / math.Log(float64(cfg.M)),
		stride0: 1 + 2*cfg.M,
		strideU: 1 + cfg.M,
		ids:     make(map[uint64]uint32, min(cfg.Capacity, MaxCapacityHint)),
	}
	if cfg.Metric == distance.L2 {
		// Skip the Kernels wrapper: one call less per distance.
		x.dist = distance.SquaredL2
	}
	x.quant = newQuantState(cfg)
	x.qg = newQGState(cfg)
	x.setLayout(x.quant == nil)
	// About chunkBytes of vectors and lists per chunk: big enough that the
	// directory stays tiny and in cache and that huge pages apply, small
	// enough that the unused tail of the last chunk is a few percent of a
	// large index.
	nodes := chunkBytes / int(x.slotBytes())
	if cfg.Capacity > 0 {
		nodes = min(nodes, 2*cfg.Capacity-1)
	}
	x.shift = 6
	for x.shift < 16 && 1<<(x.shift+1) <= nodes {
		x.shift++
	}
	x.mask = 1<<x.shift - 1
	d := &directory{chunks: make([]*chunk, 0, min(cfg.Capacity, MaxCapacityHint)>>x.shift+1)}
	x.dir.Store(d)
	x.pool.Store(&upperPool{})
	x.entry.Store(emptyEntry)
	x.scratch.New = func() any { return new(scratch) }
}

// Len returns the number of vectors held, deleted ones excluded.
func (x *Index) Len() int {
	x.idMu.RLock()
	defer x.idMu.RUnlock()
	return len(x.ids)
}

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Metric returns the distance metric.
func (x *Index) Metric() distance.Metric { return x.metric }

// Config returns the configuration with defaults filled in.
func (x *Index) Config() Config {
	return Config{Dim: x.dim, Metric: x.metric, M: x.m, EfConstruction: x.efc, EfSearch: x.efs, Seed: x.seed, Quantization: x.quantization(), QGraphSubspaces: x.qgSubspaces()}
}

// MemoryUsage returns the bytes held by the index: vector and link chunks
// (allocated capacity, including the unused tail of the last chunk), the
// upper-level pool, per-node bookkeeping and an estimate of the ID map.
// Per-search scratch buffers (pooled, one per concurrent search) are not
// counted.
func (x *Index) MemoryUsage() int64 {
	d := x.dir.Load()
	per := x.slotBytes() + 8 + 4 + 4 + 8 // vector and list, label, meta, upper ref, lock
	b := int64(len(d.chunks)) * (per<<x.shift + 8)
	for _, c := range x.pool.Load().chunks {
		b += int64(cap(c)) * 4
	}
	x.idMu.RLock()
	n := len(x.ids)
	x.idMu.RUnlock()
	// Swiss-table map: 8-slot groups of (uint64, uint32) padded to 16 bytes
	// plus a control byte, at most 7/8 full, group count a power of two.
	slots := int64(8)
	for slots*7/8 < int64(n) {
		slots *= 2
	}
	b += slots * 17
	b += x.quantMemory(len(d.chunks)) + x.qgMemory(len(d.chunks))
	return b
}

// MemoryStats splits MemoryUsage into what a search of a quantized index
// touches and what only re-ranking and insertion read.
type MemoryStats struct {
	// Vectors is the float32 vector storage (allocated chunk capacity).
	Vectors int64
	// Codes is the SQ8 code storage and codec tables, or a QGraph
	// index's own codes, neighbour-code blocks and codebook (0 without
	// quantization).
	Codes int64
	// Graph is everything else: links, labels, per-node metadata, the
	// upper-level pool and the ID map.
	Graph int64
}

// MemoryStats returns the breakdown of MemoryUsage.
func (x *Index) MemoryStats() MemoryStats {
	total := x.MemoryUsage()
	nch := int64(len(x.dir.Load().chunks))
	st := MemoryStats{
		// A record's padding (layout.go) is there for the vector.
		Vectors: nch * (x.slotBytes() - int64(x.stride0)*4) << x.shift,
		Codes:   x.quantMemory(int(nch)) + x.qgMemory(int(nch)),
	}
	st.Graph = total - st.Vectors - st.Codes
	return st
}
