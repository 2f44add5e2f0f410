package durable

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCRCUpdateLE checks the fixed-field CRC update against crc32.Update
// over the same bytes, from arbitrary starting CRCs.
func TestCRCUpdateLE(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		crc, v := rng.Uint32(), rng.Uint64()
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		for _, n := range []int{4, 8} {
			if got, want := crcUpdateLE(crc, v, n), crc32.Update(crc, castagnoli, b[:n]); got != want {
				t.Fatalf("crcUpdateLE(%#x, %#x, %d) = %#x, crc32.Update %#x", crc, v, n, got, want)
			}
		}
	}
}

// TestFrameNoAlloc: encoding a frame's checksums allocates nothing.
func TestFrameNoAlloc(t *testing.T) {
	p := make([]byte, 100)
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { appendFrame(dst[:0], 7, payloadCRC(p), p) }); n != 0 {
		t.Fatalf("%v allocations per frame", n)
	}
}
