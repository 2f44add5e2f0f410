package hdf5

// Object header message types this reader uses.
const (
	msgDataspace    = 0x01
	msgLinkInfo     = 0x02
	msgDatatype     = 0x03
	msgLink         = 0x06
	msgLayout       = 0x08
	msgFilters      = 0x0B
	msgAttribute    = 0x0C
	msgContinuation = 0x10
	msgSymbolTable  = 0x11
	msgAttrInfo     = 0x15
)

// message is one object header message; data aliases the header block.
type message struct {
	typ   uint16
	flags uint8
	at    uint64 // file address of data
	data  []byte
}

// shared reports whether the message is stored elsewhere (a shared or
// committed message), which this reader does not follow.
func (m message) shared() bool { return m.flags&0x02 != 0 }

// maxHeaderBlocks bounds the continuation chain of one object header; real
// files use one or two blocks.
const maxHeaderBlocks = 256

// objectHeader parses the object header at addr into its messages, following
// continuation blocks.
func (f *File) objectHeader(addr uint64) ([]message, error) {
	head, err := f.readUpTo(addr, 16)
	if err != nil {
		return nil, err
	}
	if len(head) >= 4 && string(head[:4]) == "OHDR" {
		return f.objectHeaderV2(addr)
	}
	c := &cursor{b: head, at: addr}
	if v := c.u8(); v != 1 {
		if c.err != nil {
			return nil, c.err
		}
		return nil, corrupt(addr, "object header version %d", v)
	}
	c.skip(1)
	nmsgs := int(c.u16())
	c.skip(4) // reference count
	size := uint64(c.u32())
	if c.err != nil {
		return nil, c.err
	}
	type block struct{ addr, size uint64 }
	blocks := []block{{addr + 16, size}}
	var msgs []message
	for i := 0; i < len(blocks); i++ {
		if i >= maxHeaderBlocks {
			return nil, corrupt(addr, "more than %d object header blocks", maxHeaderBlocks)
		}
		b, err := f.read(blocks[i].addr, blocks[i].size)
		if err != nil {
			return nil, err
		}
		c := &cursor{b: b, at: blocks[i].addr}
		for c.left() >= 8 && len(msgs) < nmsgs {
			typ, sz, flags := c.u16(), int(c.u16()), c.u8()
			c.skip(3)
			at := c.addr()
			data := c.take(sz)
			if c.err != nil {
				return nil, c.err
			}
			if typ == msgContinuation {
				cc := &cursor{b: data, at: at}
				a, n := cc.uint(f.offSize), cc.uint(f.lenSize)
				if cc.err != nil {
					return nil, cc.err
				}
				blocks = append(blocks, block{a, n})
			}
			msgs = append(msgs, message{typ: typ, flags: flags, at: at, data: data})
		}
	}
	return msgs, nil
}

func (f *File) objectHeaderV2(addr uint64) ([]message, error) {
	head, err := f.readUpTo(addr, 32)
	if err != nil {
		return nil, err
	}
	c := &cursor{b: head, at: addr}
	c.sig("OHDR")
	if v := c.u8(); v != 2 && c.err == nil {
		return nil, corrupt(addr, "object header version %d", v)
	}
	flags := c.u8()
	if flags&0x20 != 0 {
		c.skip(16) // access, modification, change, birth times
	}
	if flags&0x10 != 0 {
		c.skip(4) // attribute phase change values
	}
	size := c.uint(1 << (flags & 3))
	if c.err != nil {
		return nil, c.err
	}
	order := flags&0x04 != 0
	type block struct{ addr, size uint64 }
	// The first block's messages start after the prefix and end before the
	// checksum; a continuation block starts with "OCHK" and ends likewise.
	blocks := []block{{addr + uint64(c.pos), size}}
	var msgs []message
	for i := 0; i < len(blocks); i++ {
		if i >= maxHeaderBlocks {
			return nil, corrupt(addr, "more than %d object header blocks", maxHeaderBlocks)
		}
		b, err := f.read(blocks[i].addr, blocks[i].size)
		if err != nil {
			return nil, err
		}
		c := &cursor{b: b, at: blocks[i].addr}
		if i > 0 {
			if !c.sig("OCHK") {
				return nil, c.err
			}
			c.b = c.b[:max(len(c.b)-4, c.pos)]
		}
		hdr := 4
		if order {
			hdr = 6
		}
		for c.left() >= hdr {
			typ, sz, mflags := uint16(c.u8()), int(c.u16()), c.u8()
			if order {
				c.skip(2)
			}
			at := c.addr()
			data := c.take(sz)
			if c.err != nil {
				return nil, c.err
			}
			if typ == msgContinuation {
				cc := &cursor{b: data, at: at}
				a, n := cc.uint(f.offSize), cc.uint(f.lenSize)
				if cc.err != nil {
					return nil, cc.err
				}
				blocks = append(blocks, block{a, n})
			}
			msgs = append(msgs, message{typ: typ, flags: mflags, at: at, data: data})
		}
	}
	return msgs, nil
}
