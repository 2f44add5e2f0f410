package durable

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/nearkit/nearkit"
)

// Segment format, all little-endian.
//
// A segment file is named wal-<first LSN as 16 hex digits>.log and starts
// with a 24-byte header:
//
//	[8]byte "NKWAL\0\0\0", u32 version (1), u64 first LSN, u32 CRC-32C of
//	the 20 bytes before it
//
// followed by frames, one per record:
//
//	u32 payload length n, u32 CRC, u64 LSN, n bytes of payload
//
// where the CRC is CRC-32C (Castagnoli) of the length's 4 bytes, the
// payload and the LSN's 8 bytes, in that order (so the payload's share can
// be computed before the LSN is known, outside the log's lock). LSNs are
// consecutive across frames and segments: a segment's first frame carries
// its header's first LSN and each next frame the previous one plus 1.
const (
	segMagic      = "NKWAL\x00\x00\x00"
	segVersion    = 1
	segHeaderSize = 24
	frameHeader   = 16
	// MaxRecordBytes bounds one record's payload, so a corrupt length can
	// never make the reader allocate more than this (and never more than
	// the bytes the file actually holds).
	MaxRecordBytes = 256 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// payloadCRC returns the CRC-32C of a frame's length field and payload: the
// part of the frame CRC that does not depend on the LSN.
func payloadCRC(p []byte) uint32 {
	return crc32.Update(crcUpdateLE(0, uint64(len(p)), 4), castagnoli, p)
}

// frameCRC completes payloadCRC with the LSN.
func frameCRC(partial uint32, lsn uint64) uint32 { return crcUpdateLE(partial, lsn, 8) }

// crcUpdateLE extends a CRC-32C by the n low bytes of v in little-endian
// order, as crc32.Update would extend it by those bytes. It exists because
// a stack array handed to crc32.Update escapes (the package dispatches to
// assembly out of escape analysis' sight): the length and LSN fields cost
// two heap allocations per record, on every commit and every replayed
// record, before this byte-at-a-time loop over the same table.
func crcUpdateLE(crc uint32, v uint64, n int) uint32 {
	crc = ^crc
	for range n {
		crc = castagnoli[byte(crc)^byte(v)] ^ crc>>8
		v >>= 8
	}
	return ^crc
}

// appendFrame appends one frame to dst.
func appendFrame(dst []byte, lsn uint64, partial uint32, p []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(p)))
	dst = binary.LittleEndian.AppendUint32(dst, frameCRC(partial, lsn))
	dst = binary.LittleEndian.AppendUint64(dst, lsn)
	return append(dst, p...)
}

// segmentHeader returns the header of a segment whose first record is lsn.
func segmentHeader(first uint64) []byte {
	b := make([]byte, 0, segHeaderSize)
	b = append(b, segMagic...)
	b = binary.LittleEndian.AppendUint32(b, segVersion)
	b = binary.LittleEndian.AppendUint64(b, first)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// errTorn marks damage that may be a write cut short by a crash: the reader
// decides whether it is a torn tail (nothing valid follows) or corruption.
var errTorn = errors.New("durable: incomplete or damaged frame")

// segmentReader reads the frames of one segment sequentially.
type segmentReader struct {
	r     io.Reader
	size  int64 // the file's size, to bound allocations
	off   int64 // offset of the next frame
	first uint64
	next  uint64 // LSN the next frame must carry
	buf   []byte
}

// newSegmentReader checks the header. size is the file's length.
func newSegmentReader(r io.Reader, size int64) (*segmentReader, error) {
	var h [segHeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("%w: segment header: %v", errTorn, err)
	}
	if string(h[:8]) != segMagic {
		return nil, fmt.Errorf("%w: not a log segment (magic % x)", nearkit.ErrIncompatible, h[:8])
	}
	if binary.LittleEndian.Uint32(h[20:]) != crc32.Checksum(h[:20], castagnoli) {
		return nil, fmt.Errorf("%w: segment header checksum", errTorn)
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != segVersion {
		return nil, fmt.Errorf("%w: log segment version %d, want %d", nearkit.ErrIncompatible, v, segVersion)
	}
	first := binary.LittleEndian.Uint64(h[12:])
	return &segmentReader{r: r, size: size, off: segHeaderSize, first: first, next: first}, nil
}

// Next returns the next record's LSN and payload (valid until the next
// call). It returns io.EOF at a clean end of the segment and an error
// wrapping errTorn for a frame that is cut short, fails its checksum or
// carries an unexpected LSN.
func (s *segmentReader) Next() (uint64, []byte, error) {
	var h [frameHeader]byte
	n, err := io.ReadFull(s.r, h[:])
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %d of %d frame header bytes at offset %d", errTorn, n, frameHeader, s.off)
	}
	length := int64(binary.LittleEndian.Uint32(h[0:]))
	sum := binary.LittleEndian.Uint32(h[4:])
	lsn := binary.LittleEndian.Uint64(h[8:])
	if length > MaxRecordBytes || length > s.size-s.off-frameHeader {
		return 0, nil, fmt.Errorf("%w: frame at offset %d claims %d bytes, %d remain", errTorn, s.off, length, max(0, s.size-s.off-frameHeader))
	}
	if int64(cap(s.buf)) < length {
		s.buf = make([]byte, length)
	}
	p := s.buf[:length]
	if _, err := io.ReadFull(s.r, p); err != nil {
		return 0, nil, fmt.Errorf("%w: frame at offset %d cut short", errTorn, s.off)
	}
	if frameCRC(payloadCRC(p), lsn) != sum {
		return 0, nil, fmt.Errorf("%w: checksum mismatch in frame at offset %d", errTorn, s.off)
	}
	if lsn != s.next {
		return 0, nil, fmt.Errorf("%w: frame at offset %d has LSN %d, want %d", errTorn, s.off, lsn, s.next)
	}
	s.off += frameHeader + length
	s.next++
	return lsn, p, nil
}

// scanValidAfter reports whether any intact frame with an LSN above after
// starts at some offset in data: the sign that damage before it is
// corruption in the middle of the log rather than a torn tail.
func scanValidAfter(data []byte, after uint64) bool {
	for i := 0; i+frameHeader <= len(data); i++ {
		length := int(binary.LittleEndian.Uint32(data[i:]))
		if length > len(data)-i-frameHeader {
			continue
		}
		// An LSN beyond what the remaining bytes could number is noise;
		// this also keeps the scan from checksumming at every offset.
		lsn := binary.LittleEndian.Uint64(data[i+8:])
		if lsn <= after || lsn-after > uint64(len(data)/frameHeader) {
			continue
		}
		p := data[i+frameHeader : i+frameHeader+length]
		if frameCRC(payloadCRC(p), lsn) == binary.LittleEndian.Uint32(data[i+4:]) {
			return true
		}
	}
	return false
}
