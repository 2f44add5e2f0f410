package hdf5

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
)

// Writer builds a small HDF5 file of the kind ann-benchmarks writes for
// results: root attributes (strings, integers, floats) and up to eight
// contiguous float32, float64 or int32 datasets in the root group. It
// uses the oldest layout (superblock 0, version 1 object headers, a
// symbol-table root group, variable-length UTF-8 strings in one global
// heap collection), which every HDF5 library and h5py read, and holds
// the whole file in memory until WriteTo.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	attrs []wattr
	sets  []wset
}

type wattr struct {
	name string
	str  *string
	num  any // int64 or float64
}

type wset struct {
	name string
	dims []uint64
	t    []byte // encoded datatype
	data []byte
}

// MaxWriterDatasets is how many datasets one Writer holds: one symbol
// table node of the root group.
const MaxWriterDatasets = 8

// AttrString sets the root attribute name to the string s.
func (w *Writer) AttrString(name, s string) { w.attrs = append(w.attrs, wattr{name: name, str: &s}) }

// AttrInt sets the root attribute name to the 64-bit integer x.
func (w *Writer) AttrInt(name string, x int64) { w.attrs = append(w.attrs, wattr{name: name, num: x}) }

// AttrFloat sets the root attribute name to the float64 x.
func (w *Writer) AttrFloat(name string, x float64) {
	w.attrs = append(w.attrs, wattr{name: name, num: x})
}

// Float32s adds a float32 dataset of the given shape (row-major data).
func (w *Writer) Float32s(name string, shape []int, data []float32) error {
	b := make([]byte, 4*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return w.add(name, shape, len(data), typeFloat32, b)
}

// Int32s adds an int32 dataset of the given shape (row-major data).
func (w *Writer) Int32s(name string, shape []int, data []int32) error {
	b := make([]byte, 4*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return w.add(name, shape, len(data), typeInt32, b)
}

func (w *Writer) add(name string, shape []int, n int, t, b []byte) error {
	if len(w.sets) == MaxWriterDatasets {
		return fmt.Errorf("hdf5: more than %d datasets", MaxWriterDatasets)
	}
	if name == "" || slices.ContainsFunc(w.sets, func(s wset) bool { return s.name == name }) {
		return fmt.Errorf("hdf5: dataset name %q empty or used", name)
	}
	dims := make([]uint64, len(shape))
	total := 1
	for i, d := range shape {
		if d < 0 {
			return fmt.Errorf("hdf5: shape %v", shape)
		}
		dims[i] = uint64(d)
		total *= d
	}
	if total != n || len(shape) == 0 || len(shape) > maxRank {
		return fmt.Errorf("hdf5: shape %v does not hold %d elements", shape, n)
	}
	w.sets = append(w.sets, wset{name: name, dims: dims, t: t, data: b})
	return nil
}

// Encoded datatype messages: little-endian IEEE floats and two's
// complement integers, and a variable-length UTF-8 string over bytes.
var (
	typeFloat32 = []byte{0x11, 0x20, 0x1f, 0x00, 4, 0, 0, 0, 0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0}
	typeFloat64 = []byte{0x11, 0x20, 0x3f, 0x00, 8, 0, 0, 0, 0, 0, 64, 0, 52, 11, 0, 52, 0xff, 0x03, 0, 0}
	typeInt32   = []byte{0x10, 0x08, 0x00, 0x00, 4, 0, 0, 0, 0, 0, 32, 0}
	typeInt64   = []byte{0x10, 0x08, 0x00, 0x00, 8, 0, 0, 0, 0, 0, 64, 0}
	typeVString = []byte{0x19, 0x01, 0x01, 0x00, 16, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 1, 0, 0, 0, 0, 0, 8, 0}
)

// out is the file being assembled; addresses are offsets into b.
type out struct{ b []byte }

func (o *out) pad8() {
	for len(o.b)%8 != 0 {
		o.b = append(o.b, 0)
	}
}
func (o *out) u8(x uint8)   { o.b = append(o.b, x) }
func (o *out) u16(x uint16) { o.b = binary.LittleEndian.AppendUint16(o.b, x) }
func (o *out) u32(x uint32) { o.b = binary.LittleEndian.AppendUint32(o.b, x) }
func (o *out) u64(x uint64) { o.b = binary.LittleEndian.AppendUint64(o.b, x) }

func pad8(b []byte) []byte {
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func dataspace(dims []uint64) []byte {
	b := []byte{1, byte(len(dims)), 0, 0, 0, 0, 0, 0}
	for _, d := range dims {
		b = binary.LittleEndian.AppendUint64(b, d)
	}
	return b
}

type wmsg struct {
	typ  uint16
	data []byte
}

// header appends a version 1 object header holding msgs and returns its
// address.
func (o *out) header(msgs []wmsg) uint64 {
	o.pad8()
	at := uint64(len(o.b))
	size := 0
	for _, m := range msgs {
		size += 8 + len(pad8(slices.Clone(m.data)))
	}
	o.u8(1)
	o.u8(0)
	o.u16(uint16(len(msgs)))
	o.u32(1)
	o.u32(uint32(size))
	o.u32(0) // alignment of the first message
	for _, m := range msgs {
		d := pad8(slices.Clone(m.data))
		o.u16(m.typ)
		o.u16(uint16(len(d)))
		o.u32(0) // flags, reserved
		o.b = append(o.b, d...)
	}
	return at
}

// WriteTo writes the file to w.
func (w *Writer) WriteTo(dst io.Writer) (int64, error) {
	o := &out{b: make([]byte, 96)} // the superblock, filled in last

	// Strings live in one global heap collection, written first.
	var gcol uint64
	var strs []string
	for _, a := range w.attrs {
		if a.str != nil {
			strs = append(strs, *a.str)
		}
	}
	if len(strs) > 0 {
		gcol = uint64(len(o.b))
		used := 16
		for _, s := range strs {
			used += 16 + (len(s)+7)&^7
		}
		size := max(4096, used+16)
		o.b = append(o.b, "GCOL"...)
		o.u8(1)
		o.b = append(o.b, 0, 0, 0)
		o.u64(uint64(size))
		for i, s := range strs {
			o.u16(uint16(i + 1))
			o.u16(1)
			o.u32(0)
			o.u64(uint64(len(s)))
			o.b = append(o.b, s...)
			o.pad8()
		}
		o.u16(0) // free space: the rest of the collection
		o.u16(0)
		o.u32(0)
		o.u64(uint64(size - used))
		o.b = append(o.b, make([]byte, size-used-16)...)
	}

	// Datasets: data, then the object header pointing at it.
	addrs := make([]uint64, len(w.sets))
	for i, s := range w.sets {
		o.pad8()
		data := uint64(len(o.b))
		o.b = append(o.b, s.data...)
		layout := []byte{3, 1}
		layout = binary.LittleEndian.AppendUint64(layout, data)
		layout = binary.LittleEndian.AppendUint64(layout, uint64(len(s.data)))
		addrs[i] = o.header([]wmsg{
			{msgDataspace, dataspace(s.dims)},
			{msgDatatype, s.t},
			{msgLayout, layout},
		})
	}

	// The root group: a local heap of names, one B-tree leaf, one symbol
	// table node with the entries sorted by name.
	order := make([]int, len(w.sets))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if w.sets[a].name < w.sets[b].name {
			return -1
		}
		return 1
	})
	heapData := make([]byte, 8) // offset 0: the empty name
	nameOff := make([]uint64, len(w.sets))
	for _, i := range order {
		nameOff[i] = uint64(len(heapData))
		heapData = pad8(append(append(heapData, w.sets[i].name...), 0))
	}
	o.pad8()
	heapAt := uint64(len(o.b))
	o.b = append(o.b, "HEAP"...)
	o.u32(0)
	o.u64(uint64(len(heapData)))
	o.u64(1) // no free block (the library's H5HL_FREE_NULL)
	o.u64(heapAt + 32)
	o.b = append(o.b, heapData...)

	snodAt := uint64(len(o.b))
	o.b = append(o.b, "SNOD"...)
	o.u8(1)
	o.u8(0)
	o.u16(uint16(len(w.sets)))
	for _, i := range order {
		o.u64(nameOff[i])
		o.u64(addrs[i])
		o.b = append(o.b, make([]byte, 24)...)
	}
	o.b = append(o.b, make([]byte, (2*4-len(w.sets))*40)...) // capacity 2×leaf K

	treeAt := uint64(len(o.b))
	o.b = append(o.b, "TREE"...)
	o.u8(0)
	o.u8(0)
	entries := 0
	if len(w.sets) > 0 {
		entries = 1
	}
	o.u16(uint16(entries))
	o.u64(^uint64(0))
	o.u64(^uint64(0))
	o.u64(0)
	if entries > 0 {
		o.u64(snodAt)
		o.u64(nameOff[order[len(order)-1]])
	}
	o.b = append(o.b, make([]byte, (2*16+1)*8+2*16*8-8-16*entries)...) // capacity 2×internal K

	var msgs []wmsg
	st := binary.LittleEndian.AppendUint64(nil, treeAt)
	msgs = append(msgs, wmsg{msgSymbolTable, binary.LittleEndian.AppendUint64(st, heapAt)})
	si := 0
	for _, a := range w.attrs {
		var t, data []byte
		switch {
		case a.str != nil:
			t = typeVString
			data = binary.LittleEndian.AppendUint32(nil, uint32(len(*a.str)))
			data = binary.LittleEndian.AppendUint64(data, gcol)
			si++
			data = binary.LittleEndian.AppendUint32(data, uint32(si))
		default:
			switch x := a.num.(type) {
			case int64:
				t, data = typeInt64, binary.LittleEndian.AppendUint64(nil, uint64(x))
			case float64:
				t, data = typeFloat64, binary.LittleEndian.AppendUint64(nil, math.Float64bits(x))
			}
		}
		ds := dataspace(nil)
		name := append([]byte(a.name), 0)
		m := []byte{1, 0}
		m = binary.LittleEndian.AppendUint16(m, uint16(len(name)))
		m = binary.LittleEndian.AppendUint16(m, uint16(len(t)))
		m = binary.LittleEndian.AppendUint16(m, uint16(len(ds)))
		m = append(m, pad8(name)...)
		m = append(m, pad8(slices.Clone(t))...)
		m = append(m, pad8(ds)...)
		m = append(m, data...)
		msgs = append(msgs, wmsg{msgAttribute, m})
	}
	root := o.header(msgs)
	o.pad8()

	sb := &out{}
	sb.b = append(sb.b, signature...)
	sb.b = append(sb.b, 0, 0, 0, 0, 0, 8, 8, 0)
	sb.u16(4)  // group leaf node K
	sb.u16(16) // group internal node K
	sb.u32(0)
	sb.u64(0)          // base address
	sb.u64(^uint64(0)) // free-space info
	sb.u64(uint64(len(o.b)))
	sb.u64(^uint64(0)) // driver info
	sb.u64(0)          // root entry: link name offset
	sb.u64(root)
	sb.u32(1) // cache type: the scratch pad holds the symbol table
	sb.u32(0)
	sb.u64(treeAt)
	sb.u64(heapAt)
	copy(o.b, sb.b)
	n, err := dst.Write(o.b)
	return int64(n), err
}
