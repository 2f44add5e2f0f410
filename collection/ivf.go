package collection

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/ivf"
)

// IVF returns the inverted-file index type with cfg's parameters (its Dim
// and Metric are the collection's; NList is required). An ivf index must
// be trained before it takes vectors, and a collection starts empty, so
// the index type holds the first trainSize vectors in an exact (flat)
// index and searches them exactly; the Upsert that brings the count to
// trainSize trains the ivf index on them (in ID order) and moves them
// into it, holding searches off while it trains. trainSize ≤ 0 means
// 39 × NList, the fewest samples per list FAISS trains on without
// warning. Replay repeats the same Adds in the same order, so recovery
// trains the same index.
func IVF(cfg ivf.Config, trainSize int) IndexType {
	if trainSize <= 0 {
		trainSize = 39 * max(cfg.NList, 1)
	}
	return IndexType{
		Name: "ivf",
		New: func(dim int, m distance.Metric) (nearkit.Index, error) {
			c := cfg
			c.Dim, c.Metric = dim, m
			if _, err := ivf.New(c); err != nil {
				return nil, err
			}
			f, err := flat.New(flat.Config{Dim: dim, Metric: m})
			if err != nil {
				return nil, err
			}
			return &trainingIVF{cfg: c, trainSize: trainSize, flat: f}, nil
		},
		Read: readTrainingIVF(cfg, trainSize),
	}
}

// trainingIVF is an ivf index that holds its vectors in a flat index until
// it has enough to train on. It is safe for concurrent use: writes before
// training and the training itself take mu exclusively, everything else
// shares it (the wrapped indexes are safe for concurrent use themselves).
type trainingIVF struct {
	cfg       ivf.Config
	trainSize int

	mu   sync.RWMutex
	flat *flat.Index // until trained
	ivf  *ivf.Index  // once trained
}

var _ nearkit.Index = (*trainingIVF)(nil)

// current returns the index in use; the caller holds mu.
func (t *trainingIVF) current() nearkit.Index {
	if t.ivf != nil {
		return t.ivf
	}
	return t.flat
}

// Trained reports whether the ivf index has been trained.
func (t *trainingIVF) Trained() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.ivf != nil
}

func (t *trainingIVF) write(f func(x nearkit.Index) error) error {
	t.mu.RLock()
	if t.ivf != nil {
		defer t.mu.RUnlock()
		return f(t.ivf)
	}
	t.mu.RUnlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ivf != nil {
		return f(t.ivf)
	}
	if err := f(t.flat); err != nil {
		return err
	}
	if t.flat.Len() < t.trainSize {
		return nil
	}
	return t.train()
}

// train trains the ivf index on the flat index's vectors and moves them
// over. The caller holds mu exclusively.
func (t *trainingIVF) train() error {
	n := t.flat.Len()
	ids := make([]uint64, 0, n)
	for id := range t.flat.All() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	vecs := make([]float32, 0, n*t.cfg.Dim)
	for _, id := range ids {
		v, _ := t.flat.Vector(id)
		vecs = append(vecs, v...)
	}
	x, err := ivf.New(t.cfg)
	if err != nil {
		return err
	}
	if err := x.Train(context.Background(), vecs); err != nil {
		return fmt.Errorf("collection: training the ivf index on %d vectors: %w", n, err)
	}
	if err := x.AddBatch(context.Background(), ids, vecs); err != nil {
		return err
	}
	t.ivf, t.flat = x, nil
	return nil
}

func (t *trainingIVF) Add(id uint64, vec []float32) error {
	return t.write(func(x nearkit.Index) error { return x.Add(id, vec) })
}

func (t *trainingIVF) AddBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	return t.write(func(x nearkit.Index) error { return x.AddBatch(ctx, ids, vecs) })
}

func (t *trainingIVF) Delete(id uint64) error {
	return t.write(func(x nearkit.Index) error { return x.Delete(id) })
}

// Update replaces id's vector (ivf.Index.Update once trained; Delete and
// Add in the flat index before).
func (t *trainingIVF) Update(id uint64, vec []float32) error {
	return t.write(func(x nearkit.Index) error {
		if u, ok := x.(interface{ Update(uint64, []float32) error }); ok {
			return u.Update(id, vec)
		}
		if err := x.Delete(id); err != nil {
			return err
		}
		return x.Add(id, vec)
	})
}

func (t *trainingIVF) Search(dst []nearkit.Result, q []float32, k int, opts nearkit.SearchOptions) ([]nearkit.Result, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.current().Search(dst, q, k, opts)
}

func (t *trainingIVF) SearchBatch(ctx context.Context, qs []float32, k int, opts nearkit.SearchOptions) ([][]nearkit.Result, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.current().SearchBatch(ctx, qs, k, opts)
}

func (t *trainingIVF) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.current().Len()
}

func (t *trainingIVF) Dim() int                { return t.cfg.Dim }
func (t *trainingIVF) Metric() distance.Metric { return t.cfg.Metric }

func (t *trainingIVF) MemoryUsage() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.current().MemoryUsage()
}

// WriteTo writes u8 0 and the flat index before training, u8 1 and the
// ivf index after.
func (t *trainingIVF) WriteTo(w io.Writer) (int64, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	state := []byte{0}
	if t.ivf != nil {
		state[0] = 1
	}
	n, err := w.Write(state)
	if err != nil {
		return int64(n), err
	}
	m, err := t.current().WriteTo(w)
	return int64(n) + m, err
}

// readTrainingIVF returns IVF's Read: the configuration (cfg with the
// collection's Dim and Metric) and the training size are the IndexType's,
// as for New.
func readTrainingIVF(cfg ivf.Config, trainSize int) func(io.Reader) (nearkit.Index, error) {
	return func(r io.Reader) (nearkit.Index, error) {
		var state [1]byte
		if _, err := io.ReadFull(r, state[:]); err != nil {
			return nil, fmt.Errorf("%w: ivf collection index: %v", nearkit.ErrCorrupt, err)
		}
		switch state[0] {
		case 0:
			f, err := flat.Read(r)
			if err != nil {
				return nil, err
			}
			c := cfg
			c.Dim, c.Metric = f.Dim(), f.Metric()
			return &trainingIVF{cfg: c, trainSize: trainSize, flat: f}, nil
		case 1:
			x, err := ivf.Read(r)
			if err != nil {
				return nil, err
			}
			return &trainingIVF{cfg: x.Config(), trainSize: trainSize, ivf: x}, nil
		}
		return nil, fmt.Errorf("%w: ivf collection index: state byte %d", nearkit.ErrCorrupt, state[0])
	}
}
