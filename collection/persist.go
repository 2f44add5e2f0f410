package collection

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/internal/record"
)

// Log records (payloads of durable frames), little-endian:
//
//	upsert: u8 1, u32 n, n × {u32 id, u8 new, key, dim × f32 vector,
//	        metadata, payload}
//	delete: u8 2, u32 n, n × {u32 id, key}
//
// where a key or payload is a u32 length and its bytes, and metadata is a
// u32 count of {field (u32 length, bytes), u8 kind, value: string as
// u32 length + bytes, number as f64, bool as u8}.
//
// Snapshot (the durable snapshot's payload):
//
//	u64 length of the document section, then that section:
//	  [8]byte "NKCOLL\0\0", u32 version (2), u32 dim, u8 metric,
//	  index type name (u32 length, bytes), u32 count, u32 free,
//	  free × u32 free ID, ascending,
//	  count × {u32 id, key, dim × f32 vector, metadata, payload}
//	  in ascending ID order,
//	then the index as its WriteTo wrote it, to the end.
//
// The IDs handed out are exactly the count documents' and the free ones,
// which together number every ID below count + free: so every ID the
// collection sizes its tables by is paid for by bytes of the snapshot
// (4 for a free ID), and a forged snapshot naming a huge ID is refused
// before anything is allocated for it. In the log likewise, a new
// document takes a free ID or the next one (Upsert hands IDs out in log
// order, durable.Store.CommitFunc), so replay refuses any other.
//
// Integrity is the durable layer's: frames and snapshots carry CRC-32C.
const (
	opUpsert = 1
	opDelete = 2

	collMagic   = "NKCOLL\x00\x00"
	collVersion = 2
)

// upsertHeader and upsertOpHeader are the bytes of an upsert record
// before its documents and before each document's own (docSize).
const (
	upsertHeader   = 5
	upsertOpHeader = 5
)

func (c *Collection) encodeUpsert(ops []upsertOp) []byte {
	size := upsertHeader
	for _, op := range ops {
		size += upsertOpHeader + c.docSize(op.doc)
	}
	b := make([]byte, 0, size)
	b = record.AppendU8(b, opUpsert)
	b = record.AppendU32(b, uint32(len(ops)))
	for _, op := range ops {
		b = record.AppendU32(b, op.id)
		nw := uint8(0)
		if op.isNew {
			nw = 1
		}
		b = record.AppendU8(b, nw)
		b = c.appendDoc(b, op.doc, op.vec)
	}
	return b
}

// appendDoc appends key, vector, metadata and payload: docSize bytes.
func (c *Collection) appendDoc(b []byte, d doc, vec []float32) []byte {
	b = record.AppendString(b, d.key)
	b = record.AppendFloat32s(b, vec)
	b = record.AppendU32(b, uint32(len(d.meta)))
	// Sorted field order keeps the bytes deterministic.
	var names [16]string
	for _, name := range appendSortedKeys(names[:0], d.meta) {
		v := d.meta[name]
		b = record.AppendString(b, name)
		b = record.AppendU8(b, uint8(v.kind))
		switch v.kind {
		case KindString:
			b = record.AppendString(b, v.s)
		case KindNumber:
			b = record.AppendF64(b, v.f)
		case KindBool:
			b = record.AppendU8(b, uint8(v.f))
		}
	}
	return record.AppendBytes(b, d.payload)
}

// docSize returns the number of bytes appendDoc appends for d.
func (c *Collection) docSize(d doc) int {
	n := 4 + len(d.key) + 4*c.cfg.Dim + 4
	for name, v := range d.meta {
		n += 4 + len(name) + 1
		switch v.kind {
		case KindString:
			n += 4 + len(v.s)
		case KindNumber:
			n += 8
		case KindBool:
			n++
		}
	}
	return n + 4 + len(d.payload)
}

func (c *Collection) encodeDelete(ops []deleteOp) []byte {
	b := record.AppendU8(nil, opDelete)
	b = record.AppendU32(b, uint32(len(ops)))
	for _, op := range ops {
		b = record.AppendU32(b, op.id)
		b = record.AppendString(b, op.key)
	}
	return b
}

// readDoc decodes what appendDoc wrote, validating it as Upsert would.
func (c *Collection) readDoc(d *record.Decoder) (doc, []float32) {
	var out doc
	out.key = d.String()
	if d.Err() == nil && (len(out.key) == 0 || len(out.key) > MaxKeyBytes) {
		d.Fail("key of %d bytes", len(out.key))
	}
	vec := make([]float32, c.cfg.Dim)
	if d.Left() < 4*len(vec) {
		d.Fail("vector cut short")
		return out, nil
	}
	d.Float32s(vec)
	for _, x := range vec {
		if x-x != 0 {
			d.Fail("non-finite vector value")
			break
		}
	}
	nm := d.Count(6, MaxFields)
	if nm > 0 {
		out.meta = make(map[string]Value, nm)
	}
	for range nm {
		name := d.String()
		var v Value
		v.kind = Kind(d.U8())
		switch v.kind {
		case KindString:
			v.s = d.String()
		case KindNumber:
			v.f = d.F64()
		case KindBool:
			if d.U8() != 0 {
				v.f = 1
			}
		}
		if d.Err() != nil {
			break
		}
		if err := v.valid(); err != nil || name == "" {
			d.Fail("metadata field %q: %v", name, err)
			break
		}
		out.meta[name] = v
	}
	if p := d.Bytes(); len(p) > 0 {
		if len(p) > MaxPayloadBytes {
			d.Fail("payload of %d bytes", len(p))
		}
		out.payload = append([]byte(nil), p...)
	}
	return out, vec
}

// describeIndex names what an IndexType's New returned, for its error.
func describeIndex(idx nearkit.Index) string {
	if idx == nil {
		return "no index"
	}
	return fmt.Sprintf("an index of %d %d-d %v vectors", idx.Len(), idx.Dim(), idx.Metric())
}

// state is the Collection as the durable Store's State.
type state Collection

func (s *state) Restore(r io.Reader) error {
	c := (*Collection)(s)
	if r == nil {
		idx, err := c.cfg.Index.New(c.cfg.Dim, c.cfg.Metric)
		if err != nil {
			return err
		}
		// Checked here, not at the first Upsert, whose record would be
		// logged before the index refused it.
		if idx == nil || idx.Dim() != c.cfg.Dim || idx.Metric() != c.cfg.Metric || idx.Len() != 0 {
			return fmt.Errorf("%w: collection: IndexType %q: New(%d, %v) returned %s", nearkit.ErrInvalidConfig, c.cfg.Index.Name, c.cfg.Dim, c.cfg.Metric, describeIndex(idx))
		}
		c.reset(idx)
		return nil
	}
	var lb [8]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return fmt.Errorf("%w: collection snapshot: %v", nearkit.ErrCorrupt, err)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	// ReadAll grows with the bytes present, whatever n claims.
	sec, err := io.ReadAll(io.LimitReader(r, int64(min(n, math.MaxInt64))))
	if err != nil {
		return err
	}
	if uint64(len(sec)) != n {
		return fmt.Errorf("%w: collection snapshot: document section cut short", nearkit.ErrCorrupt)
	}
	d := record.NewDecoder(sec)
	var magic [8]byte
	for i := range magic {
		magic[i] = d.U8()
	}
	if d.Err() == nil && string(magic[:]) != collMagic {
		return fmt.Errorf("%w: not a collection snapshot", nearkit.ErrIncompatible)
	}
	if v := d.U32(); d.Err() == nil && v != collVersion {
		return fmt.Errorf("%w: collection snapshot version %d, want %d", nearkit.ErrIncompatible, v, collVersion)
	}
	dim, metric, name := int(d.U32()), distance.Metric(d.U8()), d.String()
	if err := d.Err(); err != nil {
		return err
	}
	if dim != c.cfg.Dim || metric != c.cfg.Metric || name != c.cfg.Index.Name {
		return fmt.Errorf("%w: collection holds %d-d %v vectors in a %q index; opened as %d-d %v, %q",
			nearkit.ErrIncompatible, dim, metric, name, c.cfg.Dim, c.cfg.Metric, c.cfg.Index.Name)
	}
	count := d.Count(13+4*dim, maxDocs)
	nfree := d.Count(4, maxDocs)
	if err := d.Err(); err != nil {
		return err
	}
	if uint64(count)+uint64(nfree) > maxDocs {
		return fmt.Errorf("%w: collection snapshot: %d documents and %d free IDs exceed %d", nearkit.ErrCorrupt, count, nfree, uint64(maxDocs))
	}
	next := uint32(count + nfree)
	free := make([]uint32, nfree)
	for i := range free {
		free[i] = d.U32()
		if d.Err() == nil && (free[i] >= next || (i > 0 && free[i] <= free[i-1])) {
			d.Fail("free id %d out of order or beyond %d", free[i], next)
		}
	}
	c.reset(nil)
	// Sized by counts the bytes left have paid for.
	c.slotOf = make([]uint32, 0, next)
	c.ids, c.docs = make([]uint32, 0, count), make([]doc, 0, count)
	last := -1
	for range count {
		id := d.U32()
		if d.Err() == nil {
			if _, isFree := slices.BinarySearch(free, id); isFree || int(id) <= last || id >= next {
				d.Fail("document id %d free, out of order or beyond %d", id, next)
			}
		}
		dc, vec := c.readDoc(d)
		if err := d.Err(); err != nil {
			return err
		}
		if _, dup := c.keys[dc.key]; dup {
			return fmt.Errorf("%w: collection snapshot: key %q twice", nearkit.ErrCorrupt, dc.key)
		}
		last = int(id)
		c.setDoc(upsertOp{id: id, isNew: true, doc: dc, vec: vec})
	}
	if err := d.Finish(); err != nil {
		return err
	}
	c.next = next
	idx, err := c.cfg.Index.Read(r)
	if err != nil {
		return err
	}
	if idx == nil {
		return fmt.Errorf("%w: collection: IndexType %q: Read returned no index", nearkit.ErrInvalidConfig, c.cfg.Index.Name)
	}
	if idx.Dim() != dim || idx.Metric() != metric || idx.Len() != len(c.docs) {
		return fmt.Errorf("%w: collection snapshot: index of %d %d-d %v vectors beside %d documents", nearkit.ErrCorrupt, idx.Len(), idx.Dim(), idx.Metric(), len(c.docs))
	}
	c.idx = idx
	c.upd, _ = idx.(durable.Updater)
	return nil
}

// docSnapshot is the document section as Capture took it: copies of
// the per-ID and per-slot tables (small beside the vectors) and a
// copy-on-write view of the vectors. Keys, metadata maps and payloads
// are never changed once stored, so sharing them is safe.
type docSnapshot struct {
	c      *Collection // for its configuration and encoding only
	next   uint32
	slotOf []uint32
	docs   []doc
	vecs   vectors
}

// Capture captures the documents (see docSnapshot) and writes the index
// to tail: the index has no cheaper way to a consistent copy than its
// WriteTo. The Store calls it with no commit in flight, so documents and
// index agree, and writes the returned document section after commits
// resume.
func (s *state) Capture(tail io.Writer) (io.WriterTo, error) {
	c := (*Collection)(s)
	c.mu.Lock()
	ds := &docSnapshot{c: c, next: c.next, slotOf: slices.Clone(c.slotOf), docs: slices.Clone(c.docs), vecs: c.vecs.capture()}
	c.mu.Unlock()
	if _, err := c.idx.WriteTo(tail); err != nil {
		return nil, err
	}
	return ds, nil
}

// WriteTo writes the snapshot: what Capture takes, in one go.
func (s *state) WriteTo(w io.Writer) (int64, error) {
	var tail bytes.Buffer
	head, err := s.Capture(&tail)
	if err != nil {
		return 0, err
	}
	n, err := head.WriteTo(w)
	if err != nil {
		return n, err
	}
	m, err := tail.WriteTo(w)
	return n + m, err
}

// WriteTo writes the document section, streamed to w through a small
// buffer (its length counted first).
func (ds *docSnapshot) WriteTo(w io.Writer) (int64, error) {
	c := ds.c
	held := func(id uint32) bool { return int(id) < len(ds.slotOf) && ds.slotOf[id] != 0 }
	nfree := int(ds.next) - len(ds.docs)
	head := make([]byte, 8, 64+len(c.cfg.Index.Name))
	head = append(head, collMagic...)
	head = record.AppendU32(head, collVersion)
	head = record.AppendU32(head, uint32(c.cfg.Dim))
	head = record.AppendU8(head, uint8(c.cfg.Metric))
	head = record.AppendString(head, c.cfg.Index.Name)
	head = record.AppendU32(head, uint32(len(ds.docs)))
	head = record.AppendU32(head, uint32(nfree))
	size := int64(len(head)-8) + 4*int64(nfree)
	for slot := range ds.docs {
		size += 4 + int64(c.docSize(ds.docs[slot]))
	}
	binary.LittleEndian.PutUint64(head, uint64(size))
	sw := sectionWriter{w: w, b: head}
	for id := range ds.next {
		if !held(id) {
			sw.b = record.AppendU32(sw.b, id)
			sw.flush(false)
		}
	}
	for id := range ds.next {
		if held(id) {
			slot := ds.slotOf[id] - 1
			sw.b = record.AppendU32(sw.b, id)
			sw.b = c.appendDoc(sw.b, ds.docs[slot], ds.vecs.at(slot))
			sw.flush(false)
		}
	}
	sw.flush(true)
	if sw.err != nil {
		return sw.n, sw.err
	}
	if sw.n != 8+size {
		return sw.n, fmt.Errorf("collection: snapshot: wrote a %d-byte document section, counted %d", sw.n-8, size)
	}
	return sw.n, nil
}

// sectionWriter buffers the document section's writes.
type sectionWriter struct {
	w   io.Writer
	b   []byte
	n   int64
	err error
}

// flush writes the buffer once it holds 64 KiB, or now when all is set.
func (sw *sectionWriter) flush(all bool) {
	if sw.err != nil || (!all && len(sw.b) < 64<<10) {
		if sw.err != nil {
			sw.b = sw.b[:0]
		}
		return
	}
	n, err := sw.w.Write(sw.b)
	sw.n += int64(n)
	sw.err = err
	sw.b = sw.b[:0]
}

// Replay applies one logged Upsert or Delete.
func (s *state) Replay(rec []byte) error {
	c := (*Collection)(s)
	d := record.NewDecoder(rec)
	switch op := d.U8(); op {
	case opUpsert:
		n := d.Count(13+4*c.cfg.Dim, maxDocs)
		ops := make([]upsertOp, 0, n)
		// A new document takes a free ID or the next one; next counts
		// the IDs this record hands out beyond c.next, taken the free
		// ones it reuses (so none is reused twice).
		next := uint64(c.next)
		var taken map[uint32]struct{}
		for range n {
			var op upsertOp
			op.id = d.U32()
			op.isNew = d.U8() != 0
			op.doc, op.vec = c.readDoc(d)
			if err := d.Err(); err != nil {
				return err
			}
			id, held := c.keys[op.doc.key]
			ok := op.isNew != held && (!held || id == op.id)
			if ok && op.isNew {
				switch _, dup := taken[op.id]; {
				case uint64(op.id) == next:
					next++
				case op.id < c.next && !c.held(op.id) && !dup:
					if taken == nil {
						taken = make(map[uint32]struct{})
					}
					taken[op.id] = struct{}{}
				default:
					ok = false
				}
			}
			if !ok {
				return fmt.Errorf("%w: collection: upsert of %q as id %d (new=%v) disagrees with the state (next id %d)", nearkit.ErrCorrupt, op.doc.key, op.id, op.isNew, next)
			}
			ops = append(ops, op)
		}
		if err := d.Finish(); err != nil {
			return err
		}
		return c.applyUpsert(ops)
	case opDelete:
		n := d.Count(8, maxDocs)
		ops := make([]deleteOp, 0, n)
		for range n {
			op := deleteOp{id: d.U32(), key: d.String()}
			if err := d.Err(); err != nil {
				return err
			}
			if id, ok := c.keys[op.key]; !ok || id != op.id {
				return fmt.Errorf("%w: collection: delete of %q (id %d) disagrees with the state", nearkit.ErrCorrupt, op.key, op.id)
			}
			ops = append(ops, op)
		}
		if err := d.Finish(); err != nil {
			return err
		}
		return c.applyDelete(ops)
	default:
		return fmt.Errorf("%w: collection: unknown record type %d", nearkit.ErrCorrupt, op)
	}
}

var _ durable.Capturer = (*state)(nil)
