// Package ivf is an inverted-file index: the vectors are partitioned
// among NList lists by a coarse k-means quantizer, and a search scores the
// query against the centroids, then scans only the NProbe nearest lists.
//
// The list entries are stored as float32 vectors (Flat), one byte per
// dimension (SQ8, scalar.SQ8), 8-bit product-quantization codes of the
// residual to the list centroid (PQ), or 4-bit residual codes in the
// fast-scan block layout (PQFastScan, 32 codes per block scored with
// lookup tables held in SIMD registers). These are FAISS's IndexIVFFlat,
// IndexIVFScalarQuantizer, IndexIVFPQ and IndexIVFPQFastScan.
//
// For L2, residual PQ distances use FAISS's precomputed-table
// decomposition: with y the reconstruction of the residual of x to its
// centroid c,
//
//	‖q − c − y‖² = ‖q − c‖² + (‖y‖² + 2⟨c, y⟩) − 2⟨q, y⟩
//
// The first term comes from the coarse quantizer, the second depends only
// on the list and the codeword and is tabulated at training time
// (NList × M × 2^nbits floats), the third is one table per query; a list's
// lookup table is the sum of the last two.
//
// Compressed encodings can re-rank their best k×Rerank candidates with
// full vectors, kept in the lists (Config.KeepVectors), memory-mapped from
// a vector file (OpenVectorFile), or supplied by the host (VectorSource).
//
// Memory per vector is the entry (code and 8-byte ID) and little else:
// lists grow by an eighth, and the index keeps no table from ID to entry
// until a Delete or Update needs one; Add's duplicate check uses a Bloom
// filter of about 1.2 bytes per vector meanwhile (idset.go), and an index
// from Open holds neither. Stats.Memory breaks MemoryUsage down.
//
// The coarse quantizer is exact (every centroid scored with
// distance.DotBatch) or, for large NList, an hnsw graph over the
// centroids.
package ivf
