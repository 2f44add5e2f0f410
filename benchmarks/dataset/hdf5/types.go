package hdf5

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
)

// Class is the kind of a dataset's or attribute's elements.
type Class uint8

// The element classes this reader decodes.
const (
	Integer Class = iota // signed or unsigned, 1 to 8 bytes
	Float                // IEEE 754 binary32 or binary64
	String               // fixed- or variable-length
)

func (c Class) String() string {
	switch c {
	case Integer:
		return "integer"
	case Float:
		return "float"
	case String:
		return "string"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// datatype is a decoded datatype message.
type datatype struct {
	class  Class
	size   int // bytes per element as stored
	big    bool
	signed bool
	vlen   bool // variable-length string: elements are global heap references
}

func (f *File) parseDatatype(b []byte, at uint64) (datatype, error) {
	c := &cursor{b: b, at: at}
	cv := c.u8()
	bits := c.take(3)
	size := c.u32()
	if c.err != nil {
		return datatype{}, c.err
	}
	class := cv & 0x0f
	var t datatype
	t.size = int(size)
	switch class {
	case 0: // fixed-point
		t.class = Integer
		t.big = bits[0]&1 != 0
		t.signed = bits[0]&0x08 != 0
		off, prec := c.u16(), c.u16()
		if c.err != nil {
			return t, c.err
		}
		if (size != 1 && size != 2 && size != 4 && size != 8) || off != 0 || int(prec) != 8*t.size {
			return t, unsupported("%d-byte integer with %d bits at offset %d", size, prec, off)
		}
	case 1: // floating point
		t.class = Float
		if bits[0]&0x40 != 0 {
			return t, unsupported("VAX floating point")
		}
		t.big = bits[0]&1 != 0
		off, prec := c.u16(), c.u16()
		if c.err != nil {
			return t, c.err
		}
		if (size != 4 && size != 8) || off != 0 || int(prec) != 8*t.size {
			return t, unsupported("%d-byte float with %d bits at offset %d", size, prec, off)
		}
	case 3: // fixed-length string
		t.class = String
	case 9: // variable-length
		if bits[0]&0x0f != 1 {
			return t, unsupported("variable-length sequence")
		}
		t.class, t.vlen = String, true
		if size != uint32(4+f.offSize+4) {
			return t, corrupt(at, "variable-length string element of %d bytes", size)
		}
	default:
		names := map[uint8]string{2: "time", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 8: "enumerated", 10: "array"}
		if n, ok := names[class]; ok {
			return t, unsupported("%s datatype", n)
		}
		return t, corrupt(at, "datatype class %d", class)
	}
	if t.size <= 0 {
		return t, corrupt(at, "element size %d", size)
	}
	return t, nil
}

// maxRank bounds a dataspace's rank (HDF5's own limit is 32).
const maxRank = 32

// parseDataspace returns a dataspace message's dimensions (nil for a
// scalar, which holds one element) and whether it is the null space.
func parseDataspace(b []byte, at uint64, lenSize int) (dims []uint64, null bool, err error) {
	c := &cursor{b: b, at: at}
	v := c.u8()
	rank := int(c.u8())
	flags := c.u8()
	switch v {
	case 1:
		c.skip(5)
	case 2:
		null = c.u8() == 2
	default:
		if c.err == nil {
			return nil, false, unsupported("dataspace version %d", v)
		}
	}
	if rank > maxRank {
		return nil, false, corrupt(at, "rank %d", rank)
	}
	for range rank {
		dims = append(dims, c.uint(lenSize))
	}
	_ = flags // maximum dimensions follow when flags&1; they are not needed
	return dims, null, c.err
}

// count returns the number of elements of dims, or an error when it
// overflows or exceeds limit.
func count(dims []uint64, limit uint64) (uint64, error) {
	n := uint64(1)
	for _, d := range dims {
		if d != 0 && n > limit/d {
			return 0, corrupt(0, "dataspace %v holds more elements than the file can", dims)
		}
		n *= d
	}
	return n, nil
}

// Attr returns the root group's attribute name: a string for string
// types, an int64 or float64 for a scalar number, a []int64 or []float64
// for an array of numbers, a []string for an array of strings.
func (f *File) Attr(name string) (any, error) {
	return f.attr(f.root, name)
}

// AttrString returns the root group's string attribute name.
func (f *File) AttrString(name string) (string, error) {
	v, err := f.Attr(name)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("hdf5: attribute %q is %T, not a string", name, v)
	}
	return s, nil
}

func (f *File) attr(obj uint64, name string) (any, error) {
	msgs, err := f.objectHeader(obj)
	if err != nil {
		return nil, err
	}
	dense := false
	for _, m := range msgs {
		if m.typ == msgAttrInfo {
			c := &cursor{b: m.data, at: m.at}
			c.skip(1)
			if fl := c.u8(); fl&1 != 0 {
				c.skip(2)
			}
			dense = c.uint(f.offSize) != undef && c.err == nil
		}
		if m.typ != msgAttribute {
			continue
		}
		n, v, err := f.parseAttribute(m)
		if err != nil {
			return nil, err
		}
		if n == name {
			return v()
		}
	}
	if dense {
		return nil, unsupported("dense attribute storage (looking for %q)", name)
	}
	return nil, &notFoundError{name}
}

// parseAttribute decodes an attribute message's name; value decodes its
// data only when called.
func (f *File) parseAttribute(m message) (name string, value func() (any, error), err error) {
	c := &cursor{b: m.data, at: m.at}
	v := c.u8()
	flags := c.u8()
	nameSize, dtSize, dsSize := int(c.u16()), int(c.u16()), int(c.u16())
	pad := func(n int) int { return n }
	switch v {
	case 1:
		pad = func(n int) int { return (n + 7) &^ 7 }
	case 2:
	case 3:
		c.skip(1) // name character set
	default:
		if c.err == nil {
			return "", nil, unsupported("attribute message version %d", v)
		}
	}
	nb := c.take(pad(nameSize))
	dtAt := c.addr()
	dt := c.take(pad(dtSize))
	dsAt := c.addr()
	ds := c.take(pad(dsSize))
	dataAt := c.addr()
	data := c.b[min(c.pos, len(c.b)):]
	if c.err != nil {
		return "", nil, c.err
	}
	nb = nb[:min(nameSize, len(nb))]
	if i := bytes.IndexByte(nb, 0); i >= 0 {
		nb = nb[:i]
	}
	name = string(nb)
	value = func() (any, error) {
		if v > 1 && flags&0x03 != 0 {
			return nil, unsupported("attribute %q with a shared datatype or dataspace", name)
		}
		t, err := f.parseDatatype(dt, dtAt)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		dims, null, err := parseDataspace(ds, dsAt, f.lenSize)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", name, err)
		}
		if null {
			return nil, nil
		}
		n, err := count(dims, uint64(len(data)))
		if err != nil {
			return nil, err
		}
		if n*uint64(t.size) > uint64(len(data)) {
			return nil, corrupt(dataAt, "attribute %q: %d elements of %d bytes in %d bytes", name, n, t.size, len(data))
		}
		return f.attrValue(t, data[:n*uint64(t.size)], n, dims == nil, dataAt)
	}
	return name, value, nil
}

func (f *File) attrValue(t datatype, data []byte, n uint64, scalar bool, at uint64) (any, error) {
	switch t.class {
	case String:
		out := make([]string, n)
		for i := range out {
			el := data[i*t.size : (i+1)*t.size]
			if t.vlen {
				s, err := f.vlenString(el, at)
				if err != nil {
					return nil, err
				}
				out[i] = s
				continue
			}
			if j := bytes.IndexByte(el, 0); j >= 0 {
				el = el[:j]
			}
			out[i] = strings.TrimRight(string(el), " ")
		}
		if scalar || n == 1 {
			return out[0], nil
		}
		return out, nil
	case Integer:
		out := make([]int64, n)
		for i := range out {
			u := decodeUint(data[i*t.size:(i+1)*t.size], t.big)
			if t.signed {
				shift := 64 - 8*t.size
				out[i] = int64(u<<shift) >> shift
			} else {
				out[i] = int64(u)
			}
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	default:
		out := make([]float64, n)
		for i := range out {
			u := decodeUint(data[i*t.size:(i+1)*t.size], t.big)
			if t.size == 4 {
				out[i] = float64(math.Float32frombits(uint32(u)))
			} else {
				out[i] = math.Float64frombits(u)
			}
		}
		if scalar {
			return out[0], nil
		}
		return out, nil
	}
}

// vlenString reads a variable-length string from the global heap: the
// element is its length, the heap collection's address and the object's
// index in it.
func (f *File) vlenString(el []byte, at uint64) (string, error) {
	c := &cursor{b: el, at: at}
	n := uint64(c.u32())
	coll := c.uint(f.offSize)
	index := c.u32()
	if c.err != nil {
		return "", c.err
	}
	head, err := f.readUpTo(coll, 8+uint64(f.lenSize))
	if err != nil {
		return "", err
	}
	hc := &cursor{b: head, at: coll}
	hc.sig("GCOL")
	hc.skip(4)
	size := hc.uint(f.lenSize)
	if hc.err != nil {
		return "", hc.err
	}
	b, err := f.read(coll, size)
	if err != nil {
		return "", err
	}
	oc := &cursor{b: b, at: coll}
	oc.skip(8 + f.lenSize)
	for oc.left() >= 8+f.lenSize && oc.err == nil {
		idx := oc.u16()
		oc.skip(6)
		osz := oc.uint(f.lenSize)
		if idx == 0 {
			break // free space runs to the end of the collection
		}
		if osz > uint64(oc.left()) {
			return "", corrupt(oc.addr(), "global heap object of %d bytes", osz)
		}
		data := oc.take(int(osz))
		if uint32(idx) == index {
			if n > osz {
				return "", corrupt(at, "string of %d bytes in a %d-byte heap object", n, osz)
			}
			return string(data[:n]), nil
		}
		oc.skip(min(int((osz+7)&^7-osz), oc.left()))
	}
	if oc.err != nil {
		return "", oc.err
	}
	return "", corrupt(coll, "global heap object %d not found", index)
}

func decodeUint(b []byte, big bool) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		if big {
			return uint64(binary.BigEndian.Uint16(b))
		}
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		if big {
			return uint64(binary.BigEndian.Uint32(b))
		}
		return uint64(binary.LittleEndian.Uint32(b))
	default:
		if big {
			return binary.BigEndian.Uint64(b)
		}
		return binary.LittleEndian.Uint64(b)
	}
}
