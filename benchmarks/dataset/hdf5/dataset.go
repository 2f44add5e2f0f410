package hdf5

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// MaxBytes bounds the decoded size of one dataset (64 GiB), whatever the
// file claims; the bound relative to the file's size is usually tighter.
const MaxBytes = 1 << 36

// deflateRatio is the most deflate can expand its input: a run of one
// byte repeated compresses about 1032:1.
const deflateRatio = 1032

// Dataset is a dataset found by File.Dataset: its shape and element type
// are known, its data is read by Float32s or Int32s.
type Dataset struct {
	f       *File
	name    string
	dims    []uint64
	n       uint64 // elements
	t       datatype
	layout  layout
	filters []filter
}

// Shape returns the dataset's dimensions, slowest-varying first (rows,
// columns for a matrix).
func (d *Dataset) Shape() []int {
	s := make([]int, len(d.dims))
	for i, x := range d.dims {
		s[i] = int(x)
	}
	return s
}

// Class returns the class of the dataset's elements.
func (d *Dataset) Class() Class { return d.t.class }

// ElemSize returns the stored size of one element in bytes.
func (d *Dataset) ElemSize() int { return d.t.size }

type layoutClass uint8

const (
	compact layoutClass = iota
	contiguous
	chunked
)

// Chunk index types of a version 4 layout message.
const (
	indexBTree1 = iota // version 3 layouts
	indexSingle
	indexImplicit
	indexFixedArray
	indexExtensibleArray
	indexBTree2
)

type layout struct {
	class layoutClass
	data  []byte // compact
	addr  uint64 // contiguous data, chunk index, or the single chunk
	size  uint64 // contiguous size, or the single chunk's filtered size
	mask  uint32 // single chunk's filter mask
	chunk []uint64
	index int
}

type filter struct {
	id     uint16
	name   string
	values []uint32
}

// Dataset returns the dataset at path ("train", or "group/name").
func (f *File) Dataset(path string) (*Dataset, error) {
	addr, err := f.lookup(path)
	if err != nil {
		return nil, err
	}
	msgs, err := f.objectHeader(addr)
	if err != nil {
		return nil, err
	}
	d := &Dataset{f: f, name: path}
	var haveSpace, haveType, haveLayout bool
	for _, m := range msgs {
		switch m.typ {
		case msgDataspace, msgDatatype, msgLayout, msgFilters:
			if m.shared() {
				return nil, unsupported("%s: shared message of type %d", path, m.typ)
			}
		}
		switch m.typ {
		case msgDataspace:
			var null bool
			if d.dims, null, err = parseDataspace(m.data, m.at, f.lenSize); err != nil {
				return nil, err
			}
			if null {
				d.dims = []uint64{0}
			}
			haveSpace = true
		case msgDatatype:
			if d.t, err = f.parseDatatype(m.data, m.at); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			haveType = true
		case msgLayout:
			if d.layout, err = f.parseLayout(m); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			haveLayout = true
		case msgFilters:
			if d.filters, err = parseFilters(m); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
	}
	if !haveSpace || !haveType || !haveLayout {
		return nil, fmt.Errorf("hdf5: %s is not a dataset (a group?)", path)
	}
	if d.t.vlen {
		return nil, unsupported("%s: dataset of variable-length strings", path)
	}
	if d.n, err = count(d.dims, MaxBytes/uint64(d.t.size)); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.layout.class == chunked && len(d.layout.chunk) != len(d.dims) {
		return nil, corrupt(addr, "%s: %d-d chunks in a %d-d dataset", path, len(d.layout.chunk), len(d.dims))
	}
	return d, nil
}

func (f *File) parseLayout(m message) (layout, error) {
	c := &cursor{b: m.data, at: m.at}
	v := c.u8()
	if v < 3 && c.err == nil {
		return layout{}, unsupported("data layout message version %d", v)
	}
	var l layout
	l.class = layoutClass(c.u8())
	switch l.class {
	case compact:
		n := int(c.u16())
		l.data = c.take(n)
	case contiguous:
		l.addr, l.size = c.uint(f.offSize), c.uint(f.lenSize)
	case chunked:
		var flags uint8
		var rank, width int
		if v == 3 {
			rank, width = int(c.u8()), 4
			l.addr = c.uint(f.offSize)
		} else {
			flags = c.u8()
			rank, width = int(c.u8()), int(c.u8())
			if width < 1 || width > 8 {
				return l, corrupt(m.at, "chunk dimension width %d", width)
			}
		}
		if rank < 2 || rank > maxRank+1 {
			return l, corrupt(m.at, "chunk rank %d", rank)
		}
		for range rank {
			l.chunk = append(l.chunk, c.uint(width))
		}
		l.chunk = l.chunk[:rank-1] // the last "dimension" is the element size
		if v == 4 {
			l.index = int(c.u8())
			switch l.index {
			case indexSingle:
				if flags&0x02 != 0 {
					l.size, l.mask = c.uint(f.lenSize), c.u32()
				}
			case indexImplicit:
			case indexFixedArray:
				c.skip(1)
			case indexExtensibleArray:
				return l, unsupported("extensible-array chunk index (a dataset resizable along one dimension)")
			case indexBTree2:
				return l, unsupported("version 2 B-tree chunk index (a dataset resizable along several dimensions)")
			default:
				return l, corrupt(m.at, "chunk index type %d", l.index)
			}
			l.addr = c.uint(f.offSize)
		}
		for _, x := range l.chunk {
			if x == 0 {
				return l, corrupt(m.at, "zero chunk dimension")
			}
		}
	case 3:
		return l, unsupported("virtual dataset")
	default:
		return l, corrupt(m.at, "layout class %d", l.class)
	}
	return l, c.err
}

// HDF5's registered filter identifiers.
const (
	filterDeflate    = 1
	filterShuffle    = 2
	filterFletcher32 = 3
)

func parseFilters(m message) ([]filter, error) {
	c := &cursor{b: m.data, at: m.at}
	v := c.u8()
	n := int(c.u8())
	if v == 1 {
		c.skip(6)
	} else if v != 2 && c.err == nil {
		return nil, unsupported("filter pipeline version %d", v)
	}
	var fs []filter
	for range n {
		var fl filter
		fl.id = c.u16()
		nameLen := 0
		if v == 1 || fl.id >= 256 {
			nameLen = int(c.u16())
		}
		c.skip(2) // flags
		nv := int(c.u16())
		if nameLen > 0 {
			nb := c.take(nameLen)
			if i := bytes.IndexByte(nb, 0); i >= 0 {
				nb = nb[:i]
			}
			fl.name = string(nb)
		}
		if nv > c.left()/4 {
			return nil, corrupt(m.at, "filter with %d values in a %d-byte message", nv, len(m.data))
		}
		for range nv {
			fl.values = append(fl.values, c.u32())
		}
		if v == 1 && nv%2 == 1 {
			c.skip(4)
		}
		if c.err != nil {
			return nil, c.err
		}
		switch fl.id {
		case filterDeflate, filterShuffle, filterFletcher32:
		default:
			known := map[uint16]string{4: "szip", 5: "nbit", 6: "scaleoffset", 32000: "lzf", 32001: "blosc", 32004: "lz4", 32015: "zstd"}
			name := fl.name
			if k, ok := known[fl.id]; ok {
				name = k
			}
			return nil, unsupported("filter %d (%s)", fl.id, name)
		}
		fs = append(fs, fl)
	}
	return fs, nil
}

// Float32s returns the dataset's elements converted to float32, in
// row-major order. Integers convert exactly up to 2²⁴; float64 values out
// of float32's range are an error, not infinities.
func (d *Dataset) Float32s() ([]float32, error) {
	if d.t.class == String {
		return nil, fmt.Errorf("hdf5: %s holds strings, not numbers", d.name)
	}
	return readAs(d, func(dst []float32, src []byte) error {
		return convertFloat32(d.t, dst, src)
	})
}

// Int32s returns the dataset's integer elements as int32, in row-major
// order; a value outside int32's range is an error.
func (d *Dataset) Int32s() ([]int32, error) {
	if d.t.class != Integer {
		return nil, fmt.Errorf("hdf5: %s holds %ss, not integers", d.name, d.t.class)
	}
	return readAs(d, func(dst []int32, src []byte) error {
		return convertInt32(d.t, dst, src)
	})
}

func convertFloat32(t datatype, dst []float32, src []byte) error {
	sz := t.size
	for i := range dst {
		u := decodeUint(src[i*sz:(i+1)*sz], t.big)
		switch {
		case t.class == Float && sz == 4:
			dst[i] = math.Float32frombits(uint32(u))
		case t.class == Float:
			x := math.Float64frombits(u)
			if math.Abs(x) > math.MaxFloat32 && !math.IsInf(x, 0) {
				return fmt.Errorf("hdf5: value %g outside float32's range", x)
			}
			dst[i] = float32(x)
		case t.signed:
			shift := 64 - 8*sz
			dst[i] = float32(int64(u<<shift) >> shift)
		default:
			dst[i] = float32(u)
		}
	}
	return nil
}

func convertInt32(t datatype, dst []int32, src []byte) error {
	sz := t.size
	for i := range dst {
		u := decodeUint(src[i*sz:(i+1)*sz], t.big)
		var x int64
		if t.signed {
			shift := 64 - 8*sz
			x = int64(u<<shift) >> shift
		} else {
			if u > math.MaxInt64 {
				return fmt.Errorf("hdf5: value %d outside int32's range", u)
			}
			x = int64(u)
		}
		if x < math.MinInt32 || x > math.MaxInt32 {
			return fmt.Errorf("hdf5: value %d outside int32's range", x)
		}
		dst[i] = int32(x)
	}
	return nil
}

// readAs decodes the whole dataset into a []T through conv, which turns a
// run of stored elements into the same number of T.
func readAs[T any](d *Dataset, conv func(dst []T, src []byte) error) ([]T, error) {
	f, l, es := d.f, d.layout, uint64(d.t.size)
	raw := d.n * es
	switch l.class {
	case compact:
		if uint64(len(l.data)) < raw {
			return nil, corrupt(0, "%s: %d bytes of compact data for %d elements", d.name, len(l.data), d.n)
		}
		out := make([]T, d.n)
		return out, conv(out, l.data[:raw])
	case contiguous:
		if d.n == 0 {
			return []T{}, nil
		}
		if l.addr == undef || l.size < raw {
			return nil, corrupt(l.addr, "%s: contiguous storage of %d bytes for %d elements of %d bytes", d.name, l.size, d.n, es)
		}
		if l.addr+f.base > f.size || raw > f.size-l.addr-f.base {
			return nil, corrupt(l.addr, "%s: %d bytes of data run past the end of the %d-byte file", d.name, raw, f.size)
		}
		out := make([]T, d.n)
		// Read in blocks so the raw bytes never need a second whole copy.
		const block = 1 << 20
		step := max(1, block/es)
		for i := uint64(0); i < d.n; i += step {
			m := min(step, d.n-i)
			b, err := f.read(l.addr+i*es, m*es)
			if err != nil {
				return nil, err
			}
			if err := conv(out[i:i+m], b); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return readChunked(d, conv)
}

// chunkRef locates one stored chunk: its file address and stored size,
// the filters skipped for it, and its first element's coordinates.
type chunkRef struct {
	addr, size uint64
	mask       uint32
	offset     []uint64
}

func readChunked[T any](d *Dataset, conv func(dst []T, src []byte) error) ([]T, error) {
	f, l, es := d.f, d.layout, uint64(d.t.size)
	chunkElems, err := count(l.chunk, math.MaxUint32/es)
	if err != nil {
		return nil, corrupt(l.addr, "%s: chunk %v too large", d.name, l.chunk)
	}
	chunkBytes := chunkElems * es
	// The chunk grid: how many chunks along each dimension.
	grid := make([]uint64, len(d.dims))
	for i, x := range d.dims {
		grid[i] = (x + l.chunk[i] - 1) / l.chunk[i]
	}
	nchunks, err := count(grid, f.size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	if d.n == 0 {
		return []T{}, nil
	}
	refs, err := f.chunkRefs(d, grid, nchunks, chunkBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.name, err)
	}
	// Bound the output by what the stored chunks can decode to before
	// allocating it.
	var stored uint64
	for _, r := range refs {
		stored += r.size
	}
	ratio := uint64(1)
	for _, fl := range d.filters {
		if fl.id == filterDeflate {
			ratio = deflateRatio
		}
	}
	if d.n*es > stored*ratio+chunkBytes {
		return nil, corrupt(l.addr, "%s: %d stored chunk bytes cannot hold %d elements", d.name, stored, d.n)
	}
	out := make([]T, d.n)
	buf := make([]byte, chunkBytes)
	var z inflater
	for _, r := range refs {
		for i, o := range r.offset {
			if o%l.chunk[i] != 0 || o >= d.dims[i] {
				return nil, corrupt(r.addr, "%s: chunk at offset %v outside the %v grid", d.name, r.offset, d.dims)
			}
		}
		b, err := f.read(r.addr, r.size)
		if err != nil {
			return nil, err
		}
		b, err = unfilter(&z, d.filters, r.mask, b, buf, int(es))
		if err != nil {
			return nil, corrupt(r.addr, "%s: chunk %v: %v", d.name, r.offset, err)
		}
		if uint64(len(b)) != chunkBytes {
			return nil, corrupt(r.addr, "%s: chunk %v decodes to %d bytes, want %d", d.name, r.offset, len(b), chunkBytes)
		}
		if err := scatter(out, b, r.offset, l.chunk, d.dims, es, conv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scatter copies one chunk's rows into the row-major output.
func scatter[T any](out []T, chunk []byte, offset, cdims, dims []uint64, es uint64, conv func([]T, []byte) error) error {
	r := len(dims)
	last := r - 1
	run := min(cdims[last], dims[last]-offset[last]) // elements per row inside the dataset
	idx := make([]uint64, r)                         // position within the chunk (last index unused)
	for {
		// Inside the dataset along every leading dimension?
		inside := true
		for i := range last {
			if offset[i]+idx[i] >= dims[i] {
				inside = false
				break
			}
		}
		if inside {
			var src, dst uint64
			for i := range r {
				src = src*cdims[i] + idx[i]
				dst = dst*dims[i] + offset[i] + idx[i]
			}
			if err := conv(out[dst:dst+run], chunk[src*es:(src+run)*es]); err != nil {
				return err
			}
		}
		// Next row of the chunk.
		i := last - 1
		for ; i >= 0; i-- {
			if idx[i]++; idx[i] < cdims[i] {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return nil
		}
	}
}

// inflater keeps one zlib reader across a dataset's chunks: a new one
// allocates tens of kilobytes.
type inflater struct {
	r   io.ReadCloser
	err error
}

// unfilter undoes the filter pipeline (in reverse order) on one stored
// chunk, skipping the filters whose bit is set in mask; buf has the
// chunk's decoded size and may receive the result.
func unfilter(z *inflater, fs []filter, mask uint32, b, buf []byte, es int) ([]byte, error) {
	for i := len(fs) - 1; i >= 0; i-- {
		if mask&(1<<i) != 0 {
			continue
		}
		switch fs[i].id {
		case filterDeflate:
			if z.r == nil {
				z.r, z.err = zlib.NewReader(bytes.NewReader(b))
			} else {
				z.err = z.r.(zlib.Resetter).Reset(bytes.NewReader(b), nil)
			}
			if z.err != nil {
				err := z.err
				z.r, z.err = nil, nil
				return nil, err
			}
			zr := z.r
			n, err := io.ReadFull(zr, buf)
			if err == io.ErrUnexpectedEOF || err == io.EOF {
				return nil, fmt.Errorf("deflate stream holds %d of %d bytes", n, len(buf))
			}
			if err != nil {
				return nil, err
			}
			var one [1]byte
			if m, _ := zr.Read(one[:]); m > 0 {
				return nil, fmt.Errorf("deflate stream longer than the chunk")
			}
			b = buf
		case filterShuffle:
			size := es
			if len(fs[i].values) > 0 {
				size = int(fs[i].values[0])
			}
			b = unshuffle(b, size)
		case filterFletcher32:
			if len(b) < 4 {
				return nil, fmt.Errorf("chunk too short for its Fletcher-32 checksum")
			}
			data, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
			if got := fletcher32(data); got != sum && bits16swap(got) != sum {
				return nil, fmt.Errorf("Fletcher-32 checksum %#x, stored %#x", got, sum)
			}
			b = data
		}
	}
	return b, nil
}

// unshuffle undoes HDF5's byte shuffle: the first bytes of every element,
// then the second bytes, and so on; a tail shorter than an element is
// left as stored.
func unshuffle(b []byte, size int) []byte {
	if size <= 1 || len(b) < size {
		return b
	}
	n := len(b) / size
	out := make([]byte, len(b))
	for j := range size {
		src := b[j*n : (j+1)*n]
		for i, x := range src {
			out[i*size+j] = x
		}
	}
	copy(out[n*size:], b[n*size:])
	return out
}

// fletcher32 is HDF5's Fletcher-32 over 16-bit big-endian words (an odd
// final byte is the high byte of a last word).
func fletcher32(b []byte) uint32 {
	var s1, s2 uint32
	for len(b) >= 2 {
		s1 = (s1 + (uint32(b[0])<<8 | uint32(b[1]))) % 65535
		s2 = (s2 + s1) % 65535
		b = b[2:]
	}
	if len(b) == 1 {
		s1 = (s1 + uint32(b[0])<<8) % 65535
		s2 = (s2 + s1) % 65535
	}
	return s2<<16 | s1
}

func bits16swap(x uint32) uint32 { return x<<16 | x>>16 }

// chunkRefs lists the stored chunks through the dataset's chunk index.
func (f *File) chunkRefs(d *Dataset, grid []uint64, nchunks, chunkBytes uint64) ([]chunkRef, error) {
	l := d.layout
	if l.addr == undef {
		return nil, nil // never written: every element is the fill value
	}
	rank := len(d.dims)
	// offsetOf returns the element coordinates of the linear chunk i.
	offsetOf := func(i uint64) []uint64 {
		off := make([]uint64, rank)
		for j := rank - 1; j >= 0; j-- {
			off[j] = i % grid[j] * l.chunk[j]
			i /= grid[j]
		}
		return off
	}
	switch l.index {
	case indexSingle:
		size := l.size
		if len(d.filters) == 0 {
			size = chunkBytes
		}
		return []chunkRef{{addr: l.addr, size: size, mask: l.mask, offset: make([]uint64, rank)}}, nil
	case indexImplicit:
		if nchunks*chunkBytes > f.size {
			return nil, corrupt(l.addr, "implicit chunk index of %d chunks larger than the file", nchunks)
		}
		refs := make([]chunkRef, nchunks)
		for i := range refs {
			refs[i] = chunkRef{addr: l.addr + uint64(i)*chunkBytes, size: chunkBytes, offset: offsetOf(uint64(i))}
		}
		return refs, nil
	case indexFixedArray:
		return f.fixedArray(l.addr, nchunks, chunkBytes, len(d.filters) > 0, offsetOf)
	}
	return f.btreeChunks(l.addr, rank, chunkBytes)
}

// btreeChunks walks a version 1 B-tree of raw data chunks (node type 1).
func (f *File) btreeChunks(root uint64, rank int, chunkBytes uint64) ([]chunkRef, error) {
	keySize := 8 + 8*(rank+1)
	var refs []chunkRef
	stack := []uint64{root}
	visited := 0
	for len(stack) > 0 {
		addr := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited++; visited > maxTreeNodes {
			return nil, corrupt(root, "chunk B-tree has more than %d nodes", maxTreeNodes)
		}
		b, err := f.readUpTo(addr, 8+2*uint64(f.offSize))
		if err != nil {
			return nil, err
		}
		c := &cursor{b: b, at: addr}
		c.sig("TREE")
		typ, level, entries := c.u8(), c.u8(), uint64(c.u16())
		if c.err != nil {
			return nil, c.err
		}
		if typ != 1 {
			return nil, corrupt(addr, "chunk B-tree node of type %d", typ)
		}
		body := entries*uint64(keySize+f.offSize) + uint64(keySize)
		b, err = f.read(addr+8+2*uint64(f.offSize), body)
		if err != nil {
			return nil, err
		}
		c = &cursor{b: b, at: addr + 8 + 2*uint64(f.offSize)}
		for range entries {
			size, mask := uint64(c.u32()), c.u32()
			off := make([]uint64, rank)
			for j := range off {
				off[j] = c.uint(8)
			}
			c.skip(8) // the element-size "dimension", always 0
			child := c.uint(f.offSize)
			if c.err != nil {
				return nil, c.err
			}
			if level > 0 {
				stack = append(stack, child)
				continue
			}
			refs = append(refs, chunkRef{addr: child, size: size, mask: mask, offset: off})
		}
	}
	return refs, nil
}

// fixedArray reads a fixed-array chunk index ("FAHD" header, "FADB" data
// block, paged when it holds more than 2^pageBits entries).
func (f *File) fixedArray(addr, nchunks, chunkBytes uint64, filtered bool, offsetOf func(uint64) []uint64) ([]chunkRef, error) {
	b, err := f.readUpTo(addr, 12+uint64(f.offSize+f.lenSize))
	if err != nil {
		return nil, err
	}
	c := &cursor{b: b, at: addr}
	c.sig("FAHD")
	c.skip(2) // version, client
	entry, pageBits := uint64(c.u8()), c.u8()
	n := c.uint(f.lenSize)
	block := c.uint(f.offSize)
	if c.err != nil {
		return nil, c.err
	}
	minEntry := uint64(f.offSize)
	if filtered {
		minEntry += 5
	}
	if entry < minEntry || entry > uint64(f.offSize)+12 || pageBits > 32 {
		return nil, corrupt(addr, "fixed array of %d-byte entries, %d page bits", entry, pageBits)
	}
	if n != nchunks || n > f.size/entry {
		return nil, corrupt(addr, "fixed array of %d entries for %d chunks", n, nchunks)
	}
	page := uint64(1) << pageBits
	prefix := uint64(6 + f.offSize)
	var pages uint64
	if n > page {
		// A paged block's prefix (with the page bitmap) has its own
		// checksum and the pages follow it; otherwise the entries follow
		// the header address directly and the checksum ends the block.
		pages = (n + page - 1) / page
		prefix += (pages+7)/8 + 4
	}
	pos := block + prefix
	var refs []chunkRef
	for i := uint64(0); i < n; {
		m := n - i
		if pages > 0 {
			m = min(page, n-i)
		}
		b, err := f.read(pos, m*entry)
		if err != nil {
			return nil, err
		}
		c := &cursor{b: b, at: pos}
		for j := range m {
			a := c.uint(f.offSize)
			size, mask := chunkBytes, uint32(0)
			if filtered {
				size = c.uint(int(entry) - f.offSize - 4)
				mask = c.u32()
			}
			if c.err != nil {
				return nil, c.err
			}
			if a != undef {
				refs = append(refs, chunkRef{addr: a, size: size, mask: mask, offset: offsetOf(i + j)})
			}
		}
		i += m
		pos += m * entry
		if pages > 0 {
			pos += 4 // each page's checksum
		}
	}
	return refs, nil
}
