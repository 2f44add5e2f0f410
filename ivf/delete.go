package ivf

import (
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/pq"
)

// Delete removes id. Its list is compacted at once: the list's last entry
// moves into the hole, so lists never hold tombstones to skip and a
// delete costs one entry's copy, not a rebuild. Errors wrap
// nearkit.ErrUnknownID.
func (x *Index) Delete(id uint64) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.checkWritable(); err != nil {
		return err
	}
	return x.remove(id)
}

func (x *Index) remove(id uint64) error {
	x.locate()
	loc, ok := x.loc[id]
	if !ok {
		return fmt.Errorf("%w: ivf: id %d", nearkit.ErrUnknownID, id)
	}
	l := &x.lists[loc>>32]
	pos := int(uint32(loc))
	last := len(l.ids) - 1
	if pos != last {
		x.moveEntry(l, last, pos)
		x.loc[l.ids[pos]] = loc
	}
	x.truncate(l, last)
	delete(x.loc, id)
	x.n--
	return nil
}

// moveEntry copies entry from to position to of l.
func (x *Index) moveEntry(l *list, from, to int) {
	dim := x.cfg.Dim
	l.ids[to] = l.ids[from]
	switch x.cfg.Encoding {
	case Flat:
	case PQFastScan:
		bs := x.nPairs * 32
		var code [MaxM / 2]byte
		pq.UnpackFastScanCode(code[:], l.codes[from/32*bs:(from/32+1)*bs], x.cfg.M, from%32)
		pq.PackFastScanCode(l.codes[to/32*bs:(to/32+1)*bs], x.cfg.M, to%32, code[:])
	default:
		cs := x.cfg.codeSize()
		copy(l.codes[to*cs:(to+1)*cs], l.codes[from*cs:(from+1)*cs])
	}
	if l.vecs != nil {
		copy(l.vecs[to*dim:(to+1)*dim], l.vecs[from*dim:(from+1)*dim])
	}
}

// truncate shortens l to n entries, releasing memory when the list has
// shrunk to under a quarter of its capacity.
func (x *Index) truncate(l *list, n int) {
	dim := x.cfg.Dim
	l.ids = l.ids[:n]
	switch x.cfg.Encoding {
	case Flat:
	case PQFastScan:
		bs := x.nPairs * 32
		nb := (n + 31) / 32
		l.codes = l.codes[:nb*bs]
		if n%32 != 0 {
			// Clear the freed slots: nothing reads them, but a saved
			// index is then the same bytes however it was built.
			var zero [MaxM / 2]byte
			blk := l.codes[(nb-1)*bs:]
			for v := n % 32; v < 32; v++ {
				pq.PackFastScanCode(blk, x.cfg.M, v, zero[:])
			}
		}
	default:
		l.codes = l.codes[:n*x.cfg.codeSize()]
	}
	if l.vecs != nil {
		l.vecs = l.vecs[:n*dim]
	}
	if cap(l.ids) > 64 && n < cap(l.ids)/4 {
		l.ids = append([]uint64(nil), l.ids...)
		if l.codes != nil {
			l.codes = append([]byte(nil), l.codes...)
		}
		if l.vecs != nil {
			l.vecs = append([]float32(nil), l.vecs...)
		}
	}
}

// Update replaces the vector of id, which moves to the list of the new
// vector. Errors wrap nearkit.ErrUnknownID and those of Add; on error the
// index is unchanged.
func (x *Index) Update(id uint64, vec []float32) error {
	if err := check.Vector(vec, x.cfg.Dim); err != nil {
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
	if err := x.remove(id); err != nil {
		return err
	}
	x.insertChunk([]uint64{id}, vec)
	return nil
}
