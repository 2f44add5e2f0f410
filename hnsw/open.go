package hnsw

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// OpenOptions tunes Open.
type OpenOptions struct {
	// VerifyChecksum reads the whole file to check its CRC-32C and the
	// checksum of every section, and checks every vector as Read does
	// (finite; unit length under a normalising metric), before the index
	// is used. Without it Open checks the checksums of the header, labels,
	// levels and tombstones and link lists, and every link, but neither
	// reads nor checks the vectors and codes: they are paged in by the
	// searches that need them, so a file whose vectors were altered
	// serves what it holds.
	VerifyChecksum bool
}

// Open memory-maps an index file written by Save or WriteTo (format
// version 2 or 3) for read-only serving: vectors, codes, labels and link
// lists are used in place, not copied to the heap, so a large index is
// searchable at once and its pages are shared with other processes mapping
// the same file. Only the ID map and the upper-level references (a few
// bytes per vector) are built on the heap.
//
// What Open checks: in every file, the header's fields and every level,
// flag, link and the entry point, so no file can make a search crash or
// read outside the mapping. In a version-3 file (written by this
// version) also the CRC-32C of each section that does not grow with the
// dimension — header, labels, levels and tombstones, level-0 and upper
// links — so a corrupt ID, tombstone, parameter or link is an error
// wrapping nearkit.ErrCorrupt, not a wrong answer. Those sections are a
// few words per slot and Open walks the links anyway; their checksums
// take about 1 ms of a 13 ms Open of 60,000 vectors at M=16 (the package
// doc gives the measurements). The vectors and codes are checked only
// with OpenOptions.VerifyChecksum, which reads the whole file. A version-2 file has no section checksums:
// Open checks its structure only, so a flipped label or tombstone bit
// goes unnoticed unless VerifyChecksum is set; Load it and Save it to
// upgrade. Version-1 files cannot be mapped (ErrIncompatible).
//
// Lifetime rules: the index is valid until Close, which waits for
// searches in flight and then unmaps the file; searches after Close return
// ErrClosed (never a crash). Add, AddBatch, Update, Upsert, Delete and
// Vacuum return an error wrapping nearkit.ErrReadOnly. The file may be
// replaced by a rename (Save does that) while mapped, but must not be
// truncated or rewritten in place: the mapping shows the file's pages, and
// reading a truncated page kills the process (SIGBUS). An index that is
// never closed is unmapped when it becomes unreachable.
//
// Open is available on Unix systems; elsewhere it returns an error
// wrapping errors.ErrUnsupported. On a big-endian machine the file cannot
// be used in place, and Open reads it into memory (still read-only, with
// every check Read makes).
func Open(path string, opts OpenOptions) (*Index, error) {
	if !hostLittleEndian {
		x, err := Load(path)
		if err == nil {
			x.life.readOnly = true
		}
		return x, err
	}
	data, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("hnsw: open %s: %w", path, err)
	}
	x, err := openMapped(data, opts)
	if err != nil {
		unmapFile(data)
		return nil, fmt.Errorf("hnsw: open %s: %w", path, err)
	}
	m := &mapping{data: data}
	x.life.readOnly = true
	x.life.unmap = m.release
	x.life.mapped = int64(len(data))
	runtime.AddCleanup(x, func(m *mapping) { m.release() }, m)
	return x, nil
}

// MappedBytes returns the size of the file an index opened with Open
// maps, 0 for an index in memory or after Close. MemoryUsage counts the
// mapped vectors, codes, labels and links as if they were in memory; they
// live in the page cache instead, shared with other processes mapping the
// file and evictable under memory pressure. The heap part of a mapped
// index is about MemoryUsage minus MappedBytes.
func (x *Index) MappedBytes() int64 {
	if x.life.closed.Load() {
		return 0
	}
	return x.life.mapped
}

// mapping releases a file mapping once, from Close or from the cleanup
// of an index that was never closed.
type mapping struct {
	once sync.Once
	data []byte
	err  error
}

func (m *mapping) release() error {
	m.once.Do(func() { m.err = unmapFile(m.data); m.data = nil })
	return m.err
}

var hostLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// openMapped builds a read-only index over the bytes of a mapped file.
func openMapped(data []byte, opts OpenOptions) (*Index, error) {
	corrupt := func(f string, args ...any) error {
		return fmt.Errorf("%w: hnsw: "+f, append([]any{nearkit.ErrCorrupt}, args...)...)
	}
	if len(data) < 16 {
		return nil, corrupt("%d-byte file", len(data))
	}
	body := len(data) - 4
	if opts.VerifyChecksum {
		if binfmt.Checksum(data[:body]) != binary.LittleEndian.Uint32(data[body:]) {
			return nil, corrupt("checksum mismatch")
		}
	}
	br, err := binfmt.NewReader(bytes.NewReader(data[:body]), magic, fileVersion)
	if err != nil {
		return nil, err
	}
	if br.Version < 2 {
		return nil, fmt.Errorf("%w: hnsw: format version %d cannot be memory-mapped (Load it and Save it again)", nearkit.ErrIncompatible, br.Version)
	}
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	x := new(Index)
	if err := x.setup(h); err != nil {
		return nil, err
	}
	// The sections are used in place, so vectors and lists stay apart.
	x.setLayout(false)
	l := x.layout(uint64(h.n), uint64(h.words), uint64(br.Offset()))
	end := l.end()
	if h.version >= 3 {
		end += footerSize(len(l.secs))
	}
	if end != uint64(body) {
		return nil, corrupt("file holds %d bytes before the checksum, the header describes %d", body, end)
	}
	if h.version >= 3 {
		// Before anything is built on them: a corrupt count or link would
		// be caught by the checks below, a corrupt label or tombstone
		// only here.
		sums := mappedSums(data, l, opts.VerifyChecksum)
		if err := checkSectionSums(l.secs, sums, data[l.end():body]); err != nil {
			return nil, err
		}
	}
	if h.n == 0 {
		return x, x.validate(x.dir.Load(), 0, h.entry)
	}
	labels := unsafe.Slice((*uint64)(unsafe.Pointer(&data[l.at(secLabels)])), h.n)
	meta := unsafe.Slice((*uint32)(unsafe.Pointer(&data[l.at(secMeta)])), h.n)
	vecs := unsafe.Slice((*float32)(unsafe.Pointer(&data[l.at(secVectors)])), h.n*x.dim)
	links := unsafe.Slice((*uint32)(unsafe.Pointer(&data[l.at(secLinks)])), h.n*x.stride0)
	var codes []uint8
	if x.quant != nil {
		at := l.at(secCodes)
		codes = data[at : at+uint64(h.n*x.dim)]
	}
	var qcodes, qblocks []byte
	if x.qg != nil {
		qcodesLen, qblkLen := x.qgSectionSizes(uint64(h.n))
		at := l.at(secQCodes)
		qcodes = data[at : at+qcodesLen]
		at = l.at(secQBlocks)
		qblocks = data[at : at+qblkLen]
	}
	per := 1 << x.shift
	d := &directory{}
	for lo := 0; lo < h.n; lo += per {
		hi := min(lo+per, h.n)
		c := &chunk{
			labels: labels[lo:hi:hi],
			meta:   meta[lo:hi:hi],
			vecs:   vecs[lo*x.dim : hi*x.dim : hi*x.dim],
			links0: links[lo*x.stride0 : hi*x.stride0 : hi*x.stride0],
			upper:  make([]uint32, hi-lo),
		}
		if codes != nil {
			c.codes = codes[lo*x.dim : hi*x.dim : hi*x.dim]
		}
		if x.qg != nil {
			x.qgMapChunk(c, qcodes, qblocks, lo, hi)
		}
		d.chunks = append(d.chunks, c)
	}
	words, err := x.checkMeta(d, h.n)
	if err != nil {
		return nil, err
	}
	if words != h.words {
		return nil, corrupt("upper words = %d, levels need %d", h.words, words)
	}
	// The upper lists, in slot order, cut into pool windows of at most
	// poolChunkWords words that never split a node's lists.
	var upper []uint32
	if words > 0 {
		upper = unsafe.Slice((*uint32)(unsafe.Pointer(&data[l.at(secUpper)])), words)
	}
	pool := &upperPool{}
	start, pos := 0, 0
	for s := range uint32(h.n) {
		lv := x.levelOf(d, s)
		if lv == 0 {
			continue
		}
		w := lv * x.strideU
		if len(pool.chunks) == 0 || pos+w-start > poolChunkWords {
			if len(pool.chunks) == 1<<16 {
				return nil, fmt.Errorf("%w: hnsw: too many upper-level lists to map", nearkit.ErrIncompatible)
			}
			start = pos
			pool.chunks = append(pool.chunks, upper[start:min(start+poolChunkWords, words)])
		}
		d.chunks[s>>x.shift].upper[s&x.mask] = uint32(len(pool.chunks)-1)<<16 | uint32(pos-start)
		pos += w
	}
	x.pool.Store(pool)
	x.dir.Store(d)
	x.nslots.Store(uint32(h.n))
	if opts.VerifyChecksum {
		if err := x.checkVectors(d, h.n); err != nil {
			return nil, err
		}
	}
	if err := x.validate(d, h.n, h.entry); err != nil {
		return nil, err
	}
	return x, nil
}
