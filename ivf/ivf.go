package ivf

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/hnsw"
	"github.com/nearkit/nearkit/pq"
	"github.com/nearkit/nearkit/pq/opq"
	"github.com/nearkit/nearkit/scalar"
)

// Index is an inverted-file index. Build it with New, Train, then Add or
// AddBatch.
//
// All methods are safe for concurrent use. Searches run concurrently with
// each other; Train, Add, AddBatch, Delete and Update take the index
// exclusively, so a search waits for a running batch insert.
type Index struct {
	cfg  Config
	kern distance.Kernels

	mu      sync.RWMutex
	trained bool
	// centroids holds NList×Dim coarse centroids and cnorm their squared
	// norms, for ‖q−c‖² = ‖q‖² − 2⟨q,c⟩ + ‖c‖².
	centroids []float32
	cnorm     []float32
	graph     *hnsw.Index // coarse quantizer when cfg.Coarse == CoarseHNSW

	sq  *scalar.SQ8
	pq  *pq.ProductQuantizer // codebooks of the residuals (after rotation)
	opq *opq.Quantizer       // rotation, when cfg.OPQ
	// precomp is, for L2 PQ encodings, the query-independent term
	// ‖y‖² + 2⟨c,y⟩ for every list, subquantizer and codeword
	// (NList×M×ksub).
	precomp []float32
	cb      []float32 // the PQ codebooks, M×ksub×dsub
	ksub    int
	dsub    int
	nPairs  int // fast-scan subquantizer pairs

	lists []list
	// loc maps an ID to its list and position (list<<32 | pos) once a
	// Delete or Update has needed it; until then seen filters new IDs
	// (idset.go). At most one of the two is set.
	loc  map[uint64]uint64
	seen *idBloom
	n    int

	// readOnly is set by Open; mapping is the mapped file whose bytes
	// the lists view.
	readOnly bool
	mapping  []byte
	mapped   bool

	vectors atomic.Pointer[sourceBox]
	pool    sync.Pool // *scratch
}

// list is one inverted list. Entries are contiguous in ids, codes and (for
// Flat and KeepVectors) vecs; a list grows by appending, without touching
// the other lists. For PQFastScan codes holds whole blocks of 32 entries.
type list struct {
	ids   []uint64
	codes []byte
	vecs  []float32
}

type sourceBox struct{ src VectorSource }

// New validates cfg and returns an empty, untrained index. Errors wrap
// nearkit.ErrInvalidConfig.
func New(cfg Config) (*Index, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	// The lists are made by training (or reading the centroids): a file
	// must not make Read allocate NList lists before it has shown them.
	return &Index{cfg: cfg, kern: cfg.Metric.Kernels()}, nil
}

// Config returns the configuration with defaults filled in (Progress
// excluded).
func (x *Index) Config() Config {
	c := x.cfg
	c.Progress = nil
	return c
}

// Trained reports whether Train (or Read) has set the quantizers.
func (x *Index) Trained() bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.trained
}

// Len returns the number of vectors held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.cfg.Dim }

// Metric returns the distance metric.
func (x *Index) Metric() distance.Metric { return x.cfg.Metric }

// Encoding returns how list entries are stored.
func (x *Index) Encoding() Encoding { return x.cfg.Encoding }

// MemoryUsage returns the bytes held by the index: lists (capacity),
// centroids, codebooks and tables, and the ID filter or, once a Delete or
// Update has built it, an estimate of the ID table. Vectors of an external
// VectorSource are not counted. Stats breaks it down.
func (x *Index) MemoryUsage() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	m := x.memory()
	return m.Entries + m.Spare + m.IDs + m.Fixed
}

// Memory is the breakdown of MemoryUsage.
type Memory struct {
	// Entries is the bytes of the entries held: IDs, codes (whole
	// fast-scan blocks) and vectors kept in the lists.
	Entries int64
	// Spare is the lists' capacity beyond their length.
	Spare int64
	// IDs is the ID filter, or the estimated ID table.
	IDs int64
	// Fixed is what does not grow with the vectors: centroids, codebooks,
	// precomputed tables, the coarse graph and the list headers.
	Fixed int64
}

func (x *Index) memory() Memory {
	var m Memory
	cs := int64(x.cfg.codeSize())
	for i := range x.lists {
		l := &x.lists[i]
		n := int64(len(l.ids))
		used := n * 8
		switch x.cfg.Encoding {
		case Flat:
		case PQFastScan:
			used += int64(len(l.codes))
		default:
			used += n * cs
		}
		used += int64(len(l.vecs)) * 4
		m.Entries += used
		m.Spare += int64(cap(l.ids))*8 + int64(cap(l.codes)) + int64(cap(l.vecs))*4 - used
	}
	m.Fixed += int64(len(x.lists)) * 72
	m.Fixed += int64(cap(x.centroids)+cap(x.cnorm)+cap(x.precomp)) * 4
	if x.pq != nil {
		m.Fixed += int64(len(x.pq.Centroids())) * 4
	}
	if x.opq != nil {
		m.Fixed += int64(x.cfg.Dim*x.cfg.Dim) * 4
	}
	if x.sq != nil {
		m.Fixed += x.sq.MemoryUsage()
	}
	if x.graph != nil {
		m.Fixed += x.graph.MemoryUsage()
	}
	if x.loc != nil {
		m.IDs += idMapBytes(len(x.loc))
	}
	if x.seen != nil {
		m.IDs += x.seen.bytes()
	}
	return m
}

// Stats describes the inverted lists.
type Stats struct {
	Lists int
	// Len is the number of vectors; Empty the number of empty lists.
	Len, Empty int
	// MinList and MaxList are the smallest and largest list lengths.
	MinList, MaxList int
	// Imbalance is FAISS's imbalance factor NList·Σ len² / (Σ len)²: 1
	// for equal lists, higher when a few lists hold most vectors (a search
	// then scans more than NProbe/NList of the index).
	Imbalance float64
	// CodeBytes is the bytes of one entry's code.
	CodeBytes int
	// Memory is MemoryUsage's breakdown.
	Memory Memory
}

// Stats returns list statistics.
func (x *Index) Stats() Stats {
	x.mu.RLock()
	defer x.mu.RUnlock()
	s := Stats{Lists: x.cfg.NList, Len: x.n, MinList: -1, CodeBytes: x.cfg.codeSize(), Memory: x.memory()}
	var sq float64
	for i := range x.lists {
		n := len(x.lists[i].ids)
		if n == 0 {
			s.Empty++
		}
		if s.MinList < 0 || n < s.MinList {
			s.MinList = n
		}
		s.MaxList = max(s.MaxList, n)
		sq += float64(n) * float64(n)
	}
	if x.lists == nil { // untrained: every list empty
		s.Empty, s.MinList = x.cfg.NList, 0
	}
	if x.n > 0 {
		s.Imbalance = float64(len(x.lists)) * sq / (float64(x.n) * float64(x.n))
	}
	return s
}

// ListLen returns the number of entries of list i (0 outside [0, NList)).
func (x *Index) ListLen(i int) int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if i < 0 || i >= len(x.lists) {
		return 0
	}
	return len(x.lists[i].ids)
}

func (x *Index) checkTrained() error {
	if !x.trained {
		return fmt.Errorf("%w: ivf: index not trained (call Train first)", nearkit.ErrNotTrained)
	}
	return nil
}

// Compile-time check of the contract.
var _ nearkit.Index = (*Index)(nil)
