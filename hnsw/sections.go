package hnsw

import (
	"encoding/binary"
	"fmt"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// section names one part of the file (persist.go), in file order.
type section uint8

const (
	secHeader  section = iota // from the magic to the slot sections
	secLabels                 // caller IDs
	secMeta                   // levels, tombstones, free flags
	secVectors                // float32 vectors
	secCodes                  // SQ8 codes
	secQCodes                 // QGraph own codes
	secQBlocks                // QGraph neighbour-code blocks
	secLinks                  // level-0 lists
	secUpper                  // upper-level lists
)

var sectionNames = [...]string{
	secHeader:  "header",
	secLabels:  "labels",
	secMeta:    "levels and tombstones",
	secVectors: "vectors",
	secCodes:   "SQ8 codes",
	secQCodes:  "QGraph codes",
	secQBlocks: "QGraph blocks",
	secLinks:   "level-0 links",
	secUpper:   "upper links",
}

func (s section) String() string { return sectionNames[s] }

// bulk reports whether a section grows with the dimension: the vectors
// and the codes that stand for them. Open checks the other sections on
// every open (their size is a few words per slot, and validate walks the
// links anyway) and these only with VerifyChecksum. A corrupt bulk
// section gives wrong distances, never an out-of-range access.
func (s section) bulk() bool {
	return s == secVectors || s == secCodes || s == secQCodes || s == secQBlocks
}

// sections returns the sections of x's file in order.
func (x *Index) sections() []section {
	s := []section{secHeader, secLabels, secMeta, secVectors}
	if x.quant != nil {
		s = append(s, secCodes)
	}
	if x.qg != nil {
		s = append(s, secQCodes, secQBlocks)
	}
	return append(s, secLinks, secUpper)
}

// fileLayout is where the sections of a version 2 or 3 file lie.
// Section i spans [start[i], start[i+1]), its trailing padding included,
// so the sections tile the file from its first byte to the end of the
// upper lists; in version 3 the footer follows (persist.go).
type fileLayout struct {
	secs  []section
	start []uint64
}

// layout computes the layout of x's file holding n slots and words
// upper-list words whose header ends at headerEnd. Sizes are uint64, so
// no count read from a file can overflow them.
func (x *Index) layout(n, words, headerEnd uint64) fileLayout {
	l := fileLayout{secs: x.sections()}
	l.start = make([]uint64, 0, len(l.secs)+1)
	l.start = append(l.start, 0)
	off := headerEnd
	for _, s := range l.secs[1:] {
		off += uint64(padLen(int64(off % align)))
		l.start = append(l.start, off)
		off += x.sectionSize(s, n, words)
	}
	l.start = append(l.start, off)
	return l
}

// sectionSize returns the bytes of section s (padding excluded).
func (x *Index) sectionSize(s section, n, words uint64) uint64 {
	dim := uint64(x.dim)
	switch s {
	case secLabels:
		return 8 * n
	case secMeta:
		return 4 * n
	case secVectors:
		return 4 * n * dim
	case secCodes:
		return n * dim
	case secQCodes:
		c, _ := x.qgSectionSizes(n)
		return c
	case secQBlocks:
		_, b := x.qgSectionSizes(n)
		return b
	case secLinks:
		return 4 * n * uint64(x.stride0)
	case secUpper:
		return 4 * words
	}
	panic("hnsw: unknown section")
}

// at returns the first byte of section s (its data, after the padding of
// the section before).
func (l fileLayout) at(s section) uint64 {
	for i, t := range l.secs {
		if t == s {
			return l.start[i]
		}
	}
	panic("hnsw: section not in this file")
}

// end returns the byte after the upper lists.
func (l fileLayout) end() uint64 { return l.start[len(l.start)-1] }

// footerSize is the size of a version-3 footer for k sections: a CRC-32C
// per section and the section count.
func footerSize(k int) uint64 { return 4*uint64(k) + 4 }

// checkSectionSums compares the checksums computed from the file's
// sections with those of its footer (a word per section, then the count).
func checkSectionSums(secs []section, sums []uint64, footer []byte) error {
	if uint64(len(footer)) != footerSize(len(secs)) {
		return fmt.Errorf("%w: hnsw: section table of %d bytes, want %d", nearkit.ErrCorrupt, len(footer), footerSize(len(secs)))
	}
	if k := binary.LittleEndian.Uint32(footer[4*len(secs):]); k != uint32(len(secs)) {
		return fmt.Errorf("%w: hnsw: %d section checksums, this index has %d sections", nearkit.ErrCorrupt, k, len(secs))
	}
	for i, s := range secs {
		if sums[i] == skipped {
			continue
		}
		if want := binary.LittleEndian.Uint32(footer[4*i:]); sums[i] != uint64(want) {
			return fmt.Errorf("%w: hnsw: %v section checksum mismatch (stored %08x, computed %08x)", nearkit.ErrCorrupt, s, want, sums[i])
		}
	}
	return nil
}

// skipped marks a section checkSectionSums leaves unchecked: no CRC-32C
// equals it.
const skipped uint64 = 1 << 32

// mappedSums returns the checksum of each section of a mapped file, the
// bulk ones only when all is set (skipped otherwise).
func mappedSums(data []byte, l fileLayout, all bool) []uint64 {
	sums := make([]uint64, len(l.secs))
	for i, s := range l.secs {
		if s.bulk() && !all {
			sums[i] = skipped
			continue
		}
		sums[i] = uint64(binfmt.Checksum(data[l.start[i]:l.start[i+1]]))
	}
	return sums
}
