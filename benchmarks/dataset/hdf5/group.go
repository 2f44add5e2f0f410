package hdf5

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
)

// maxTreeNodes bounds the nodes visited in one group's B-tree, so a cycle
// in a forged file ends.
const maxTreeNodes = 1 << 16

// lookup returns the object header address of the object at path (names
// separated by "/"), starting at the root group.
func (f *File) lookup(path string) (uint64, error) {
	addr := f.root
	for name := range strings.SplitSeq(strings.Trim(path, "/"), "/") {
		if name == "" {
			continue
		}
		msgs, err := f.objectHeader(addr)
		if err != nil {
			return 0, err
		}
		next, err := f.child(msgs, name)
		if err != nil {
			return 0, err
		}
		addr = next
	}
	return addr, nil
}

// notFoundError reports a group member that does not exist; it wraps
// fs.ErrNotExist.
type notFoundError struct{ name string }

func (e *notFoundError) Error() string { return fmt.Sprintf("hdf5: no object named %q", e.name) }
func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

// child finds name among a group's members: link messages (new-style
// compact groups) or the symbol table (old-style groups).
func (f *File) child(msgs []message, name string) (uint64, error) {
	for _, m := range msgs {
		switch m.typ {
		case msgLink:
			n, addr, err := f.parseLink(m)
			if err != nil {
				return 0, err
			}
			if n == name {
				if addr == undef {
					return 0, unsupported("%q is a soft or external link", name)
				}
				return addr, nil
			}
		case msgLinkInfo:
			c := &cursor{b: m.data, at: m.at}
			c.skip(1)
			if fl := c.u8(); fl&1 != 0 {
				c.skip(8)
			}
			if heap := c.uint(f.offSize); heap != undef && c.err == nil {
				return 0, unsupported("dense link storage (fractal heap) in a group with many members")
			}
		case msgSymbolTable:
			c := &cursor{b: m.data, at: m.at}
			tree, heap := c.uint(f.offSize), c.uint(f.offSize)
			if c.err != nil {
				return 0, c.err
			}
			return f.symbolTableLookup(tree, heap, name)
		}
	}
	return 0, &notFoundError{name}
}

// parseLink decodes a link message; addr is undef for a non-hard link.
func (f *File) parseLink(m message) (name string, addr uint64, err error) {
	c := &cursor{b: m.data, at: m.at}
	if v := c.u8(); v != 1 && c.err == nil {
		return "", 0, corrupt(m.at, "link message version %d", v)
	}
	flags := c.u8()
	typ := uint8(0)
	if flags&0x08 != 0 {
		typ = c.u8()
	}
	if flags&0x04 != 0 {
		c.skip(8)
	}
	if flags&0x10 != 0 {
		c.skip(1)
	}
	n := c.uint(1 << (flags & 3))
	if n > uint64(c.left()) {
		return "", 0, corrupt(m.at, "link name of %d bytes in a %d-byte message", n, len(m.data))
	}
	name = string(c.take(int(n)))
	addr = undef
	if typ == 0 {
		addr = c.uint(f.offSize)
	}
	return name, addr, c.err
}

// symbolTableLookup walks a version 1 group B-tree (node type 0) whose
// leaves are symbol table nodes, comparing names read from the local heap.
func (f *File) symbolTableLookup(tree, heapAddr uint64, name string) (uint64, error) {
	hb, err := f.readUpTo(heapAddr, 32)
	if err != nil {
		return 0, err
	}
	hc := &cursor{b: hb, at: heapAddr}
	hc.sig("HEAP")
	hc.skip(4)
	heapSize := hc.uint(f.lenSize)
	hc.skip(f.lenSize)
	heapData := hc.uint(f.offSize)
	if hc.err != nil {
		return 0, hc.err
	}
	heap, err := f.read(heapData, heapSize)
	if err != nil {
		return 0, err
	}
	nameAt := func(off uint64) (string, error) {
		if off >= uint64(len(heap)) {
			return "", corrupt(heapData, "name offset %d outside the %d-byte local heap", off, len(heap))
		}
		s := heap[off:]
		if i := bytes.IndexByte(s, 0); i >= 0 {
			s = s[:i]
		}
		return string(s), nil
	}
	visited := 0
	stack := []uint64{tree}
	for len(stack) > 0 {
		addr := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if visited++; visited > maxTreeNodes {
			return 0, corrupt(tree, "group B-tree has more than %d nodes", maxTreeNodes)
		}
		b, err := f.readUpTo(addr, 8+2*uint64(f.offSize))
		if err != nil {
			return 0, err
		}
		c := &cursor{b: b, at: addr}
		c.sig("TREE")
		typ, level, entries := c.u8(), c.u8(), int(c.u16())
		if c.err != nil {
			return 0, c.err
		}
		if typ != 0 {
			return 0, corrupt(addr, "group B-tree node of type %d", typ)
		}
		body := uint64(entries)*uint64(f.lenSize+f.offSize) + uint64(f.lenSize)
		b, err = f.read(addr+8+2*uint64(f.offSize), body)
		if err != nil {
			return 0, err
		}
		c = &cursor{b: b, at: addr + 8 + 2*uint64(f.offSize)}
		for range entries {
			c.skip(f.lenSize)
			child := c.uint(f.offSize)
			if c.err != nil {
				return 0, c.err
			}
			if level > 0 {
				stack = append(stack, child)
				continue
			}
			found, ok, err := f.symbolNode(child, name, nameAt)
			if err != nil || ok {
				return found, err
			}
		}
	}
	return 0, &notFoundError{name}
}

// symbolNode searches one symbol table node ("SNOD") for name.
func (f *File) symbolNode(addr uint64, name string, nameAt func(uint64) (string, error)) (uint64, bool, error) {
	b, err := f.readUpTo(addr, 8)
	if err != nil {
		return 0, false, err
	}
	c := &cursor{b: b, at: addr}
	c.sig("SNOD")
	c.skip(2)
	n := uint64(c.u16())
	if c.err != nil {
		return 0, false, c.err
	}
	entry := uint64(2*f.offSize + 24)
	b, err = f.read(addr+8, n*entry)
	if err != nil {
		return 0, false, err
	}
	c = &cursor{b: b, at: addr + 8}
	for range n {
		nameOff, obj := c.uint(f.offSize), c.uint(f.offSize)
		c.skip(24)
		if c.err != nil {
			return 0, false, c.err
		}
		s, err := nameAt(nameOff)
		if err != nil {
			return 0, false, err
		}
		if s == name {
			return obj, true, nil
		}
	}
	return 0, false, nil
}
