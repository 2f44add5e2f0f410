package durable

import (
	"io"
	"os"
)

// chunkSize is the size of one chunk of a snapshot held in memory.
const chunkSize = 4 << 20

// chunks is the in-memory snapshot a Checkpoint takes while writers are
// held off: a list of fixed-size chunks rather than one growing slice, so
// that writing into it never copies what it already holds (a doubling
// buffer copies the whole snapshot again at each growth, and allocates
// twice its size). reserve allocates and touches the chunks the snapshot
// is expected to fill before the pause, so the pause does not pay the
// page faults of fresh memory either.
type chunks struct {
	bufs [][]byte // each of capacity chunkSize; all but the last full
	n    int64
}

// reserve makes room for n bytes, writing to each page of the new chunks
// so the kernel maps them now.
func (c *chunks) reserve(n int64) {
	page := os.Getpagesize()
	for have := int64(len(c.bufs)) * chunkSize; have < n; have += chunkSize {
		b := make([]byte, chunkSize)
		for i := 0; i < len(b); i += page {
			b[i] = 0
		}
		c.bufs = append(c.bufs, b[:0])
	}
}

func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	i := int(c.n / chunkSize)
	for len(p) > 0 {
		if i == len(c.bufs) {
			c.bufs = append(c.bufs, make([]byte, 0, chunkSize))
		}
		b := c.bufs[i]
		m := copy(b[len(b):cap(b)], p)
		c.bufs[i] = b[:len(b)+m]
		p = p[m:]
		if len(c.bufs[i]) == chunkSize {
			i++
		}
	}
	c.n += int64(n)
	return n, nil
}

// Len returns the bytes written.
func (c *chunks) Len() int64 { return c.n }

// each calls f with the written bytes, chunk by chunk, until it fails.
func (c *chunks) each(f func([]byte) error) error {
	for _, b := range c.bufs {
		if len(b) == 0 {
			break
		}
		if err := f(b); err != nil {
			return err
		}
	}
	return nil
}

var _ io.Writer = (*chunks)(nil)
