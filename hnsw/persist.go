package hnsw

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// File format (internal/binfmt framing: magic "NKHNSW", version, payload,
// CRC-32C trailer), all little-endian. Version 1 payload:
//
//	u32 dim, u8 metric, u32 M, u32 efConstruction, u32 efSearch, u64 seed
//	u64 n, then n bytes: the level generator's state (PCG MarshalBinary)
//	u64 nslots, u64 entry (level<<32 | slot, or 2⁶⁴-1 when empty)
//	nslots × u64 labels (caller IDs)
//	nslots × u32 meta (bits 0-7 level, bit 8 deleted)
//	nslots × dim × f32 vectors (normalised for cosine)
//	nslots × (1+2M) × u32 level-0 lists (count, ids, unused tail zero)
//	u64 words, then the upper lists of every slot with level > 0 in slot
//	order, level·(1+M) u32 each (level 1 first)
//
// Deleted slots are kept (they are still navigation nodes). Writing never
// iterates a map, so the same index always gives the same bytes.
const (
	magic       = "NKHNSW"
	fileVersion = 1
)

// WriteTo writes the index in the format above. It waits for in-flight
// Add, AddBatch and Delete calls and holds further ones off while it runs;
// searches go on.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.writeMu.Lock()
	defer x.writeMu.Unlock()
	bw := binfmt.NewWriter(w, magic, fileVersion)
	bw.U32(uint32(x.dim))
	bw.U8(uint8(x.metric))
	bw.U32(uint32(x.m))
	bw.U32(uint32(x.efc))
	bw.U32(uint32(x.efs))
	bw.U64(x.seed)
	x.rngMu.Lock()
	st, err := x.pcg.MarshalBinary()
	x.rngMu.Unlock()
	if err != nil {
		return 0, err
	}
	bw.U64(uint64(len(st)))
	bw.Bytes(st)
	n := int(x.nslots.Load())
	bw.U64(uint64(n))
	bw.U64(x.entry.Load())
	d := x.dir.Load()
	per := 1 << x.shift
	// Each section walks the chunks, writing the used part of each.
	for ci := 0; ci*per < n; ci++ {
		bw.Uint64s(d.chunks[ci].labels[:min(per, n-ci*per)])
	}
	for ci := 0; ci*per < n; ci++ {
		bw.Uint32s(d.chunks[ci].meta[:min(per, n-ci*per)])
	}
	for ci := 0; ci*per < n; ci++ {
		bw.Float32s(d.chunks[ci].vecs[:min(per, n-ci*per)*x.dim])
	}
	for ci := 0; ci*per < n; ci++ {
		bw.Uint32s(d.chunks[ci].links0[:min(per, n-ci*per)*x.stride0])
	}
	words := 0
	for s := range uint32(n) {
		words += x.levelOf(d, s) * x.strideU
	}
	bw.U64(uint64(words))
	for s := range uint32(n) {
		if l := x.levelOf(d, s); l > 0 {
			ref := d.chunks[s>>x.shift].upper[s&x.mask]
			pc := x.pool.Load().chunks[ref>>16]
			off := int(ref & 0xffff)
			bw.Uint32s(pc[off : off+l*x.strideU])
		}
	}
	return bw.Finish()
}

// Save writes the index to path crash-safely (see nearkit.SaveFile).
func (x *Index) Save(path string) error { return nearkit.SaveFile(path, x) }

// Load reads an index saved with Save or WriteTo from path.
func Load(path string) (*Index, error) { return nearkit.LoadFile(path, Read) }

// Read decodes an index written by WriteTo. Every count, level, link and
// the entry point are checked, so a corrupt, truncated or foreign stream
// returns an error wrapping nearkit.ErrCorrupt or nearkit.ErrIncompatible,
// never a panic or an allocation beyond what the stream holds.
func Read(r io.Reader) (*Index, error) {
	br, err := binfmt.NewReader(r, magic, fileVersion)
	if err != nil {
		return nil, err
	}
	var cfg Config
	cfg.Dim = int(br.U32())
	cfg.Metric = distance.Metric(br.U8())
	cfg.M = int(br.U32())
	cfg.EfConstruction = int(br.U32())
	cfg.EfSearch = int(br.U32())
	cfg.Seed = br.U64()
	if br.Err() != nil {
		return nil, br.Err()
	}
	if cfg.Dim == 0 || cfg.M == 0 || cfg.EfConstruction == 0 || cfg.EfSearch == 0 {
		return nil, fmt.Errorf("%w: hnsw: zero parameter in header", nearkit.ErrCorrupt)
	}
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("%w: hnsw: header: %v", nearkit.ErrCorrupt, err)
	}
	x := newIndex(cfg)
	st := br.Bytes(br.Count("generator state bytes", 64))
	if br.Err() != nil {
		return nil, br.Err()
	}
	x.pcg = &rand.PCG{}
	if err := x.pcg.UnmarshalBinary(st); err != nil {
		return nil, fmt.Errorf("%w: hnsw: generator state: %v", nearkit.ErrCorrupt, err)
	}
	x.rng = rand.New(x.pcg)
	n := br.Count("slots", maxSlots)
	entry := br.U64()
	if br.Err() != nil {
		return nil, br.Err()
	}
	per := 1 << x.shift
	nch := (n + per - 1) / per
	chunks := make([]*chunk, 0, min(nch, 1<<16))
	for ci := range nch {
		// Chunks are allocated as the stream proves it holds them: a lying
		// count fails on truncation after at most one chunk.
		c := x.newChunk()
		copy(c.labels, br.Uint64s(min(per, n-ci*per)))
		if br.Err() != nil {
			return nil, br.Err()
		}
		chunks = append(chunks, c)
	}
	for ci, c := range chunks {
		copy(c.meta, br.Uint32s(min(per, n-ci*per)))
	}
	for ci, c := range chunks {
		copy(c.vecs, br.Float32s(min(per, n-ci*per)*x.dim))
	}
	for ci, c := range chunks {
		copy(c.links0, br.Uint32s(min(per, n-ci*per)*x.stride0))
	}
	if br.Err() != nil {
		return nil, br.Err()
	}
	d := &directory{chunks: chunks}
	words := 0
	for s := range uint32(n) {
		m := d.chunks[s>>x.shift].meta[s&x.mask]
		if m&^(levelMask|flagDeleted) != 0 || m&levelMask > maxLevel {
			return nil, fmt.Errorf("%w: hnsw: slot %d: bad level/flags word %#x", nearkit.ErrCorrupt, s, m)
		}
		words += int(m&levelMask) * x.strideU
	}
	if got := br.Count("upper words", uint64(words)); br.Err() == nil && got != words {
		br.Fail("upper words = %d, levels need %d", got, words)
	}
	x.dir.Store(d)
	x.nslots.Store(uint32(n))
	for s := range uint32(n) {
		l := x.levelOf(d, s)
		if l == 0 {
			continue
		}
		ref := x.allocUpper(l)
		d.chunks[s>>x.shift].upper[s&x.mask] = ref
		pc := x.pool.Load().chunks[ref>>16]
		off := int(ref & 0xffff)
		copy(pc[off:off+l*x.strideU], br.Uint32s(l*x.strideU))
		if br.Err() != nil {
			return nil, br.Err()
		}
	}
	if err := br.Finish(); err != nil {
		return nil, err
	}
	if err := x.validate(d, n, entry); err != nil {
		return nil, err
	}
	return x, nil
}

// validate checks what a search relies on: link counts within bounds, ids
// of existing slots at a level they have, a valid entry point at the top
// level, and unique live IDs.
func (x *Index) validate(d *directory, n int, entry uint64) error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: hnsw: "+f, append([]any{nearkit.ErrCorrupt}, args...)...)
	}
	maxL := -1
	for s := range uint32(n) {
		l := x.levelOf(d, s)
		maxL = max(maxL, l)
		for lv := 0; lv <= l; lv++ {
			list := x.list(d, s, lv)
			cnt := int(list[0])
			if cnt > len(list)-1 {
				return bad("slot %d level %d: %d links, max %d", s, lv, cnt, len(list)-1)
			}
			for _, id := range list[1 : 1+cnt] {
				if int(id) >= n || id == s || x.levelOf(d, id) < lv {
					return bad("slot %d level %d: bad link %d", s, lv, id)
				}
			}
		}
		c := d.chunks[s>>x.shift]
		if atomic.LoadUint32(&c.meta[s&x.mask])&flagDeleted != 0 {
			x.ndeleted.Add(1)
			continue
		}
		id := c.labels[s&x.mask]
		if _, dup := x.ids[id]; dup {
			return bad("id %d held by two slots", id)
		}
		x.ids[id] = s
	}
	if entry == emptyEntry {
		// Only slots of a cancelled batch, never linked, may exist without
		// an entry point.
		if int(x.ndeleted.Load()) != n || maxL > 0 {
			return bad("no entry point but %d slots", n)
		}
		return nil
	}
	ep, l := unpackEntry(entry)
	if entry == emptyEntry || int(ep) >= n || l != maxL || x.levelOf(d, ep) != l {
		return bad("entry point %#x invalid (max level %d)", entry, maxL)
	}
	x.entry.Store(entry)
	return nil
}
