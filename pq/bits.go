package pq

// bitWriter packs values least-significant bit first into a byte slice,
// the order of FAISS's PQEncoderGeneric, so a 4-bit code holds
// subquantizer 2i in the low nibble of byte i.
type bitWriter struct {
	dst  []byte
	acc  uint32
	nacc int
	pos  int
}

func (w *bitWriter) reset(dst []byte) { *w = bitWriter{dst: dst} }

// put appends the low nb bits of v (nb ≤ 8).
func (w *bitWriter) put(v uint32, nb int) {
	w.acc |= v << w.nacc
	w.nacc += nb
	for w.nacc >= 8 {
		w.dst[w.pos] = byte(w.acc)
		w.pos++
		w.acc >>= 8
		w.nacc -= 8
	}
}

// flush writes the pending bits (zero-padded) and zeroes the rest of dst.
func (w *bitWriter) flush() {
	if w.nacc > 0 {
		w.dst[w.pos] = byte(w.acc)
		w.pos++
		w.acc, w.nacc = 0, 0
	}
	clear(w.dst[w.pos:])
}

// bitReader unpacks values written by bitWriter.
type bitReader struct {
	src  []byte
	acc  uint32
	nacc int
	pos  int
}

func (r *bitReader) reset(src []byte) { *r = bitReader{src: src} }

// get returns the next nb bits (nb ≤ 8).
func (r *bitReader) get(nb int) uint32 {
	for r.nacc < nb {
		r.acc |= uint32(r.src[r.pos]) << r.nacc
		r.pos++
		r.nacc += 8
	}
	v := r.acc & (1<<nb - 1)
	r.acc >>= nb
	r.nacc -= nb
	return v
}
