package ivf

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/kmeans"
	"github.com/nearkit/nearkit/pq"
)

// addChunk is the number of vectors AddBatch assigns and encodes at a
// time, which bounds its temporary memory whatever the batch size.
const addChunk = 1 << 14

// Add inserts vec under id. Errors wrap nearkit.ErrNotTrained,
// nearkit.ErrDimension, nearkit.ErrInvalidVector and
// nearkit.ErrDuplicateID.
func (x *Index) Add(id uint64, vec []float32) error {
	return x.AddBatch(context.Background(), []uint64{id}, vec)
}

// AddBatch inserts len(ids) vectors stored contiguously in vecs. It
// validates every vector and ID before inserting any, then assigns and
// encodes them on runtime.GOMAXPROCS(0) goroutines. ctx is checked between
// chunks of vectors; a cancelled batch leaves the vectors of the chunks
// already done in the index. Errors are those of Add, and ctx.Err().
func (x *Index) AddBatch(ctx context.Context, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, x.cfg.Dim, len(ids)); err != nil {
		return fmt.Errorf("ivf: %w", err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.checkWritable(); err != nil {
		return err
	}
	if err := x.checkTrained(); err != nil {
		return err
	}
	if uint64(x.n)+uint64(len(ids)) > math.MaxUint32 {
		return fmt.Errorf("%w: ivf: an index holds at most 2³² vectors", nearkit.ErrInvalidConfig)
	}
	if err := x.checkNewIDs(ids); err != nil {
		return err
	}
	dim := x.cfg.Dim
	for lo := 0; lo < len(ids); lo += addChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		hi := min(lo+addChunk, len(ids))
		x.insertChunk(ids[lo:hi], vecs[lo*dim:hi*dim])
	}
	return nil
}

// insertChunk assigns, encodes and appends a chunk of checked vectors.
func (x *Index) insertChunk(ids []uint64, vecs []float32) {
	dim := x.cfg.Dim
	n := len(ids)
	if x.cfg.Metric.Normalizes() {
		vecs = normalizedCopy(vecs, dim)
	}
	assign := make([]uint32, n)
	x.assign(vecs, assign)
	cs := x.cfg.codeSize()
	var codes []byte
	if x.cfg.Encoding != Flat {
		codes = make([]byte, n*cs)
		parallel(n, func(lo, hi int) {
			buf := make([]float32, 2*dim)
			for i := lo; i < hi; i++ {
				x.encode(codes[i*cs:(i+1)*cs], vecs[i*dim:(i+1)*dim], int(assign[i]), buf)
			}
		})
	}
	// Room for the whole chunk first, so that a list grows once per chunk
	// rather than once per power of its length; a chunk much smaller than
	// the list count reserves entry by entry instead of counting.
	if 4*n >= len(x.lists) {
		count := make([]int32, len(x.lists))
		for _, l := range assign {
			count[l]++
		}
		for l, c := range count {
			x.reserve(&x.lists[l], int(c))
		}
	}
	for i, id := range ids {
		var code []byte
		if codes != nil {
			code = codes[i*cs : (i+1)*cs]
		}
		x.appendEntry(int(assign[i]), id, code, vecs[i*dim:(i+1)*dim])
	}
}

// assign sets assign[i] to the list of row i of vecs: the nearest
// centroid for L2, the largest inner product otherwise, as searches rank
// lists.
func (x *Index) assign(vecs []float32, assign []uint32) {
	dim := x.cfg.Dim
	if x.cfg.Metric == distance.L2 && x.graph == nil {
		kmeans.Assign(vecs, dim, x.centroids, assign, nil)
		return
	}
	parallel(len(assign), func(lo, hi int) {
		s := x.getScratch()
		defer x.pool.Put(s)
		for i := lo; i < hi; i++ {
			x.probe(s, vecs[i*dim:(i+1)*dim], 1)
			assign[i] = s.probes[0].list
		}
	})
}

// encode writes the code of v (already normalised) in list l; buf holds
// 2·Dim floats of scratch.
func (x *Index) encode(dst []byte, v []float32, l int, buf []float32) {
	dim := x.cfg.Dim
	switch x.cfg.Encoding {
	case SQ8:
		x.sq.EncodeUnchecked(dst, v)
	case PQ, PQFastScan:
		r := buf[:dim]
		c := x.centroids[l*dim : (l+1)*dim]
		for j := range r {
			r[j] = v[j] - c[j]
		}
		if x.opq != nil {
			x.opq.Rotate(buf[dim:2*dim], r)
			r = buf[dim : 2*dim]
		}
		// The residual of a checked vector is finite, so Encode cannot fail.
		_ = x.pq.Encode(dst, r)
	}
}

// reserve makes room in l for extra more entries. It grows a list's
// arrays by an eighth, where append grows them by a quarter up to double:
// the capacity a list holds beyond its length is memory per vector, which
// is what an inverted file is chosen to keep small. The copies this costs
// add up to about eight times the list's final size.
func (x *Index) reserve(l *list, extra int) {
	n := len(l.ids)
	if n+extra <= cap(l.ids) {
		return
	}
	c := max(n+extra, n+n/8, 8)
	l.ids = regrow(l.ids, c)
	switch x.cfg.Encoding {
	case Flat:
	case PQFastScan:
		l.codes = regrow(l.codes, (c+31)/32*x.nPairs*32)
	default:
		l.codes = regrow(l.codes, c*x.cfg.codeSize())
	}
	if x.cfg.Encoding == Flat || x.cfg.KeepVectors {
		l.vecs = regrow(l.vecs, c*x.cfg.Dim)
	}
}

// regrow returns s copied into an array of at least c elements. The array
// is as long as the allocator's size class makes it (append of a zeroed
// run rounds up, where make would not): the bytes a list's capacity shows
// are then the bytes it holds.
func regrow[T any](s []T, c int) []T {
	return append(append([]T(nil), make([]T, c)...)[:0], s...)
}

// appendEntry appends one encoded entry to list l.
func (x *Index) appendEntry(l int, id uint64, code []byte, vec []float32) {
	ls := &x.lists[l]
	x.reserve(ls, 1)
	pos := len(ls.ids)
	ls.ids = append(ls.ids, id)
	switch x.cfg.Encoding {
	case Flat:
		ls.vecs = append(ls.vecs, vec...)
	case PQFastScan:
		bs := x.nPairs * 32
		if pos%32 == 0 {
			ls.codes = append(ls.codes, make([]byte, bs)...)
		}
		blk := ls.codes[pos/32*bs : (pos/32+1)*bs]
		pq.PackFastScanCode(blk, x.cfg.M, pos%32, code)
	default:
		ls.codes = append(ls.codes, code...)
	}
	if x.cfg.KeepVectors && x.cfg.Encoding != Flat {
		ls.vecs = append(ls.vecs, vec...)
	}
	if x.loc != nil {
		x.loc[id] = uint64(l)<<32 | uint64(pos)
	}
	x.n++
}

// parallel runs fn over [0, n) split into contiguous ranges on up to
// GOMAXPROCS goroutines.
func parallel(n int, fn func(lo, hi int)) {
	w := min(runtime.GOMAXPROCS(0), (n+255)/256)
	if w <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	per := (n + w - 1) / w
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}
