// Package collection is a document store for services: documents with
// string keys, a vector, metadata and an opaque payload, searched by vector
// with metadata filters, and kept durable by a write-ahead log and
// checkpoints (package durable) in one directory.
//
//	c, err := collection.Open(ctx, dir, collection.Config{Dim: 384})
//	err = c.Upsert(ctx, collection.Document{Key: "doc-1", Vector: v,
//		Metadata: map[string]collection.Value{"category": collection.String("shoes"), "price": collection.Number(42)}})
//	hits, err := c.Query(ctx, q, 10, collection.Where(collection.And(
//		collection.Eq("category", collection.String("shoes")), collection.Less("price", 50))))
//
// Each document gets a dense internal ID (reused after deletion); the
// index (HNSW by default, or flat, or any IndexType) is keyed by it. The
// documents themselves (key, vector, metadata, payload) are stored by
// slot, packed: a deletion moves the last document into the freed slot,
// so their memory follows the documents held rather than the highest ID
// handed out.
// Metadata filters are compiled to a bitmap of internal IDs: string and
// bool values through per-field, per-value posting lists (internal/posting:
// sorted arrays while sparse, bitmaps once dense), numbers through a
// per-field column scanned for ranges. A conjunction is planned: its
// posting-list conditions are evaluated first, and a range in it then
// tests only the documents left when they are few, rather than scanning
// its column. The compiled filter tells the index
// how many documents it allows (nearkit.Counter), so HNSW's filtered search
// chooses between an exact scan of the allowed documents and a filtered
// graph search by selectivity.
//
// Keys, vectors, metadata and payloads go through the same log records
// and the same snapshots as the index: one Upsert is one record, applied
// whole or not at all after a crash, and a snapshot holds the documents and
// the index as of the same log position.
package collection

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/durable"
	"github.com/nearkit/nearkit/internal/check"
	"github.com/nearkit/nearkit/internal/posting"
	"github.com/nearkit/nearkit/internal/stripe"
)

// Limits checked by Upsert (and on replay).
const (
	MaxKeyBytes     = 1 << 16
	MaxPayloadBytes = 16 << 20
	MaxFields       = 1 << 10
	// maxDocs: internal IDs are uint32.
	maxDocs = math.MaxUint32
)

// Config configures a collection. Dim is required; the zero value of every
// other field means its default.
type Config struct {
	// Dim is the vector dimension.
	Dim int
	// Metric is the distance (distance.L2 by default).
	Metric distance.Metric
	// Index chooses the index: HNSW(hnsw.Config{}) by default, or Flat(),
	// IVF(ivf.Config{NList: …}, trainSize), or any IndexType.
	Index IndexType
	// Sync is the log's durability policy (durable.SyncAlways by default).
	Sync durable.SyncPolicy
	// SegmentBytes, CheckpointBytes and CheckpointInterval are the
	// durable.Options of the same names.
	SegmentBytes       int64
	CheckpointBytes    int64
	CheckpointInterval time.Duration
}

// Document is one stored item.
type Document struct {
	// Key identifies the document (1 to MaxKeyBytes bytes).
	Key string
	// Vector has Config.Dim finite values.
	Vector []float32
	// Metadata are the fields filters test; names must be non-empty.
	Metadata map[string]Value
	// Payload is stored and returned as is (at most MaxPayloadBytes).
	Payload []byte
}

// Collection is a durable set of documents. It is safe for concurrent use:
// writes to different keys run in parallel (and share fsyncs), writes to
// the same key are serialised, and queries run alongside writes.
type Collection struct {
	cfg  Config
	st   *durable.Store
	idx  nearkit.Index
	upd  durable.Updater // nil when the index has no Update
	seed maphash.Seed

	locks stripe.Locks // by key hash

	mu     sync.RWMutex
	keys   map[string]uint32
	slotOf []uint32     // by internal ID: its document's slot + 1, 0 when free
	ids    []uint32     // by slot: the document's internal ID
	docs   []doc        // by slot
	vecs   vectors      // by slot
	live   posting.Bits // by internal ID
	next   uint32       // IDs below next have been handed out
	free   []uint32     // free IDs below next, the smallest last
	fields map[string]*field
	broken error // an apply failed after its record was logged
	closed bool  // Close has closed the index: Query refuses
}

type doc struct {
	key     string
	meta    map[string]Value
	payload []byte
}

// field holds one metadata field's indexes.
type field struct {
	lists map[string]*posting.List // string and bool values, by internal ID
	nums  column                   // numbers, by slot
}

// Open opens (creating if needed) the collection stored in dir and
// recovers it: the newest valid snapshot and the log after it (see
// durable.Recovery). It returns an error wrapping nearkit.ErrIncompatible
// when the directory holds a collection of another dimension, metric or
// index type, durable.ErrLocked when another process has it open, and one
// wrapping nearkit.ErrCorrupt for a damaged log.
func Open(ctx context.Context, dir string, cfg Config) (*Collection, error) {
	if cfg.Dim <= 0 || cfg.Dim > 1<<20 {
		return nil, fmt.Errorf("%w: collection: Dim=%d", nearkit.ErrInvalidConfig, cfg.Dim)
	}
	if !cfg.Metric.Valid() {
		return nil, fmt.Errorf("%w: collection: metric %v", nearkit.ErrInvalidConfig, cfg.Metric)
	}
	if cfg.Index.Name == "" {
		cfg.Index = HNSW(hnswDefaults)
	}
	if cfg.Index.New == nil || cfg.Index.Read == nil {
		return nil, fmt.Errorf("%w: collection: IndexType %q needs New and Read", nearkit.ErrInvalidConfig, cfg.Index.Name)
	}
	c := &Collection{cfg: cfg, seed: maphash.MakeSeed()}
	st, err := durable.Open(ctx, dir, durable.Options{
		Sync:               cfg.Sync,
		SegmentBytes:       cfg.SegmentBytes,
		CheckpointBytes:    cfg.CheckpointBytes,
		CheckpointInterval: cfg.CheckpointInterval,
	}, (*state)(c))
	if err != nil {
		return nil, err
	}
	c.st = st
	c.rebuildFree()
	return c, nil
}

// reset empties the collection around a new index.
func (c *Collection) reset(idx nearkit.Index) {
	c.idx = idx
	c.upd, _ = idx.(durable.Updater)
	c.keys = make(map[string]uint32)
	c.slotOf, c.ids, c.docs, c.live = nil, nil, nil, nil
	c.vecs = newVectors(c.cfg.Dim)
	c.next, c.free = 0, nil
	c.fields = make(map[string]*field)
}

// rebuildFree lists the unused IDs below next (after recovery, where
// replayed records carry their IDs and the free list is not kept).
func (c *Collection) rebuildFree() {
	c.free = c.free[:0]
	for id := int(c.next) - 1; id >= 0; id-- {
		if !c.held(uint32(id)) {
			c.free = append(c.free, uint32(id))
		}
	}
}

// held reports whether internal ID id names a document. The caller holds
// mu.
func (c *Collection) held(id uint32) bool {
	return int(id) < len(c.slotOf) && c.slotOf[id] != 0
}

// idRange is the number of internal IDs the bitmaps over them cover. The
// caller holds mu.
func (c *Collection) idRange() int { return len(c.slotOf) }

func (c *Collection) hash(key string) uint64 { return maphash.String(c.seed, key) }

// upsertOp is one document of an Upsert record, owned by the collection.
type upsertOp struct {
	id    uint32
	isNew bool
	doc   doc
	vec   []float32
}

// Upsert inserts the documents, or replaces those whose keys exist
// (vector, metadata and payload together). The whole call is one log
// record: after a crash all of it is present or none. It returns once the
// record is durable (per Config.Sync) and applied. Errors: a vector's
// nearkit.ErrDimension or nearkit.ErrInvalidVector, nearkit.ErrInvalidConfig
// for a bad key, metadata value or payload, nearkit.ErrDuplicateID for a
// key given twice, and the log's.
func (c *Collection) Upsert(ctx context.Context, docs ...Document) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(docs) == 0 {
		return nil
	}
	seen := make(map[string]struct{}, len(docs))
	size := int64(upsertHeader)
	for _, d := range docs {
		if err := c.checkDoc(d); err != nil {
			return err
		}
		if _, dup := seen[d.Key]; dup {
			return fmt.Errorf("collection: upsert: %w: key %q appears twice", nearkit.ErrDuplicateID, d.Key)
		}
		seen[d.Key] = struct{}{}
		size += upsertOpHeader + int64(c.docSize(doc{key: d.Key, meta: d.Metadata, payload: d.Payload}))
	}
	// Refused before anything is copied: the same payload or string
	// passed in many documents costs the caller nothing, its copies and
	// the record would.
	if size > durable.MaxRecordBytes {
		return fmt.Errorf("%w: collection: upsert of %d documents makes a %d-byte record, over durable.MaxRecordBytes (%d); split it", nearkit.ErrInvalidConfig, len(docs), size, durable.MaxRecordBytes)
	}
	ops := make([]upsertOp, len(docs))
	hs := make([]uint64, len(docs))
	for i, d := range docs {
		ops[i] = upsertOp{
			doc: doc{key: d.Key, meta: maps.Clone(d.Metadata), payload: slices.Clone(d.Payload)},
			vec: slices.Clone(d.Vector),
		}
		hs[i] = c.hash(d.Key)
	}
	unlock := c.locks.LockAll(hs)
	defer unlock()
	// IDs are handed out in log order, so replay can insist that a new
	// document take a free ID or the next one, nothing beyond.
	build := func() ([]byte, error) {
		if err := c.assign(ops); err != nil {
			return nil, err
		}
		return c.encodeUpsert(ops), nil
	}
	return c.st.CommitFunc(build, func() error { return c.apply(func() error { return c.applyUpsert(ops) }) })
}

func (c *Collection) checkDoc(d Document) error {
	if len(d.Key) == 0 || len(d.Key) > MaxKeyBytes {
		return fmt.Errorf("%w: collection: key of %d bytes, want 1..%d", nearkit.ErrInvalidConfig, len(d.Key), MaxKeyBytes)
	}
	if err := check.Vector(d.Vector, c.cfg.Dim); err != nil {
		return fmt.Errorf("collection: %q: %w", d.Key, err)
	}
	if len(d.Payload) > MaxPayloadBytes {
		return fmt.Errorf("%w: collection: %q: payload of %d bytes exceeds %d", nearkit.ErrInvalidConfig, d.Key, len(d.Payload), MaxPayloadBytes)
	}
	if len(d.Metadata) > MaxFields {
		return fmt.Errorf("%w: collection: %q: %d metadata fields exceed %d", nearkit.ErrInvalidConfig, d.Key, len(d.Metadata), MaxFields)
	}
	for f, v := range d.Metadata {
		if f == "" || len(f) > MaxKeyBytes {
			return fmt.Errorf("%w: collection: %q: metadata field name of %d bytes", nearkit.ErrInvalidConfig, d.Key, len(f))
		}
		if err := v.valid(); err != nil {
			return fmt.Errorf("%w: collection: %q: field %q: %v", nearkit.ErrInvalidConfig, d.Key, f, err)
		}
	}
	return nil
}

// assign gives each op its internal ID: the key's, or a free one. The
// caller holds the keys' stripes, so no other write to them runs.
func (c *Collection) assign(ops []upsertOp) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	for i := range ops {
		if id, ok := c.keys[ops[i].doc.key]; ok {
			ops[i].id = id
			continue
		}
		ops[i].isNew = true
		if k := len(c.free); k > 0 {
			ops[i].id = c.free[k-1]
			c.free = c.free[:k-1]
			continue
		}
		if c.next == maxDocs {
			return fmt.Errorf("%w: collection: holds the maximum of %d documents", nearkit.ErrInvalidConfig, maxDocs)
		}
		ops[i].id = c.next
		c.next++
	}
	return nil
}

// apply runs an apply step; an error after the record was logged means
// memory and log disagree, so the collection refuses further writes
// (reopening replays the log).
func (c *Collection) apply(f func() error) error {
	err := f()
	if err != nil {
		err = fmt.Errorf("collection: applying a logged change failed (reopen to recover): %w", err)
		c.mu.Lock()
		if c.broken == nil {
			c.broken = err
		}
		c.mu.Unlock()
	}
	return err
}

// applyUpsert changes the index, then the documents: a query that runs
// meanwhile may find a new vector whose document is not registered yet
// (and skips it), never a document without its vector.
func (c *Collection) applyUpsert(ops []upsertOp) error {
	var ids []uint64
	var vecs []float32
	for _, op := range ops {
		if op.isNew {
			ids = append(ids, uint64(op.id))
			vecs = append(vecs, op.vec...)
			continue
		}
		if err := c.updateIndex(uint64(op.id), op.vec); err != nil {
			return err
		}
	}
	switch len(ids) {
	case 0:
	case 1:
		if err := c.idx.Add(ids[0], vecs); err != nil {
			return err
		}
	default:
		if err := c.idx.AddBatch(context.Background(), ids, vecs); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		c.setDoc(op)
	}
	return nil
}

func (c *Collection) updateIndex(id uint64, vec []float32) error {
	if c.upd != nil {
		return c.upd.Update(id, vec)
	}
	if err := c.idx.Delete(id); err != nil {
		return err
	}
	return c.idx.Add(id, vec)
}

// setDoc stores op's document under its ID: in its slot when the ID
// holds one, else in a new slot at the end. The caller holds mu and has
// checked the ID against next (Upsert's assign, or replay and Restore
// against the data), since the per-ID tables grow to cover it.
func (c *Collection) setDoc(op upsertOp) {
	id := op.id
	if int(id) >= len(c.slotOf) {
		n := int(id) + 1
		c.slotOf = append(c.slotOf, make([]uint32, n-len(c.slotOf))...)
		if w := (n + 63) / 64; w > len(c.live) {
			c.live = append(c.live, make(posting.Bits, w-len(c.live))...)
		}
	}
	c.next = max(c.next, id+1)
	var slot uint32
	if c.slotOf[id] != 0 {
		slot = c.slotOf[id] - 1
		c.unindex(id, slot)
		c.docs[slot] = op.doc
		c.vecs.set(slot, op.vec)
	} else {
		slot = uint32(len(c.docs))
		c.slotOf[id] = slot + 1
		c.ids = append(c.ids, id)
		c.docs = append(c.docs, op.doc)
		c.vecs.push(op.vec)
		c.live.Set(id)
	}
	c.keys[op.doc.key] = id
	for name, v := range op.doc.meta {
		f := c.fields[name]
		if f == nil {
			f = &field{lists: make(map[string]*posting.List)}
			c.fields[name] = f
		}
		if v.kind == KindNumber {
			f.nums.set(slot, v.f, len(c.docs))
			continue
		}
		l := f.lists[v.postingKey()]
		if l == nil {
			l = new(posting.List)
			f.lists[v.postingKey()] = l
		}
		l.Add(id)
	}
}

// unindex removes the document with internal ID id, in slot, from the
// indexes of its metadata. The caller holds mu.
func (c *Collection) unindex(id, slot uint32) {
	for name, v := range c.docs[slot].meta {
		f := c.fields[name]
		if v.kind == KindNumber {
			f.nums.clear(slot)
		} else {
			k := v.postingKey()
			if l := f.lists[k]; l != nil {
				l.Remove(id)
				if l.Len() == 0 {
					delete(f.lists, k)
				}
			}
		}
		if f.nums.n == 0 && len(f.lists) == 0 {
			delete(c.fields, name)
		}
	}
}

// removeDoc unindexes and drops the document with internal ID id, moving
// the last slot's document into its slot. The caller holds mu.
func (c *Collection) removeDoc(id uint32) {
	slot := c.slotOf[id] - 1
	c.unindex(id, slot)
	delete(c.keys, c.docs[slot].key)
	last := uint32(len(c.docs) - 1)
	if slot != last {
		moved := c.ids[last]
		for name, v := range c.docs[last].meta {
			if v.kind == KindNumber {
				col := &c.fields[name].nums
				col.clear(last)
				col.set(slot, v.f, len(c.docs))
			}
		}
		c.docs[slot] = c.docs[last]
		c.ids[slot] = moved
		c.vecs.set(slot, c.vecs.at(last))
		c.slotOf[moved] = slot + 1
	}
	c.docs[last] = doc{}
	c.docs, c.ids = c.docs[:last], c.ids[:last]
	c.vecs.pop()
	c.slotOf[id] = 0
	c.live[id/64] &^= 1 << (id % 64)
	c.free = append(c.free, id)
}

// deleteOp is one document of a Delete record.
type deleteOp struct {
	id  uint32
	key string
}

// Delete removes the documents with these keys; absent keys are ignored.
// The call is one log record, like Upsert.
func (c *Collection) Delete(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	hs := make([]uint64, len(keys))
	for i, k := range keys {
		hs[i] = c.hash(k)
	}
	unlock := c.locks.LockAll(hs)
	defer unlock()
	var ops []deleteOp
	c.mu.RLock()
	if c.broken != nil {
		c.mu.RUnlock()
		return c.broken
	}
	// A key given twice is deleted once; a set, not a search of ops,
	// so that deleting many keys costs linear time.
	var seen map[uint32]struct{}
	for _, k := range keys {
		id, ok := c.keys[k]
		if !ok {
			continue
		}
		if _, dup := seen[id]; dup {
			continue
		}
		if seen == nil {
			seen = make(map[uint32]struct{})
		}
		seen[id] = struct{}{}
		ops = append(ops, deleteOp{id: id, key: k})
	}
	c.mu.RUnlock()
	if len(ops) == 0 {
		return nil
	}
	return c.st.Commit(c.encodeDelete(ops), func() error { return c.apply(func() error { return c.applyDelete(ops) }) })
}

func (c *Collection) applyDelete(ops []deleteOp) error {
	for _, op := range ops {
		if err := c.idx.Delete(uint64(op.id)); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		c.removeDoc(op.id)
	}
	return nil
}

// Get returns a copy of the document stored under key.
func (c *Collection) Get(key string) (Document, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	id, ok := c.keys[key]
	if !ok {
		return Document{}, false
	}
	return c.document(c.slotOf[id] - 1), true
}

// document copies the document in slot. The caller holds mu.
func (c *Collection) document(slot uint32) Document {
	d := &c.docs[slot]
	return Document{
		Key:      d.key,
		Vector:   slices.Clone(c.vecs.at(slot)),
		Metadata: maps.Clone(d.meta),
		Payload:  slices.Clone(d.payload),
	}
}

// Len returns the number of documents.
func (c *Collection) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.docs)
}

// All walks the documents (copies) in internal-ID order. It takes the
// collection's read lock only while copying each document, so the loop
// body may write to the collection; documents changed during the walk are
// seen either before or after the change, and one inserted meanwhile may
// or may not be visited.
func (c *Collection) All() iter.Seq2[string, Document] {
	return func(yield func(string, Document) bool) {
		for id := uint32(0); ; id++ {
			c.mu.RLock()
			for int(id) < len(c.slotOf) && c.slotOf[id] == 0 {
				id++
			}
			if int(id) >= len(c.slotOf) {
				c.mu.RUnlock()
				return
			}
			d := c.document(c.slotOf[id] - 1)
			c.mu.RUnlock()
			if !yield(d.Key, d) {
				return
			}
		}
	}
}

// Checkpoint snapshots the collection (documents and index together) and
// drops the log it covers; see durable.Store.Checkpoint.
func (c *Collection) Checkpoint(ctx context.Context) error { return c.st.Checkpoint(ctx) }

// Sync makes every write so far durable, whatever the policy.
func (c *Collection) Sync() error { return c.st.Sync() }

// Stats returns the log's and checkpoints' counters.
func (c *Collection) Stats() durable.Stats { return c.st.Stats() }

// Recovery reports what Open found in the directory.
func (c *Collection) Recovery() durable.Recovery { return c.st.Recovery() }

// Close syncs the log, releases the directory and closes the index (when
// it has a Close method). It does not checkpoint. Afterwards writes,
// Query, Sync and Checkpoint return durable.ErrClosed (so does a second
// Close); Get, Count, Len and All go on reading the documents in memory.
func (c *Collection) Close() error {
	err := c.st.Close()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	if cl, ok := c.idx.(io.Closer); ok {
		if cerr := cl.Close(); err == nil && cerr != nil && !errors.Is(cerr, durable.ErrClosed) {
			err = cerr
		}
	}
	return err
}
