// Package durable keeps an in-memory state — any nearkit index, or a
// collection built on one — safe across crashes with a write-ahead log and
// checkpoints.
//
// A Store owns a directory:
//
//	LOCK                      flock'ed while open: a second process is kept out
//	wal-<first LSN>.log       log segments: length + CRC-32C framed records
//	snap-<LSN>.data           snapshots: the state as of record LSN, in its
//	                          own format (for an Index, the index's file)
//	snap-<LSN>.manifest       the snapshot's LSN, and its data file's size
//	                          and CRC-32C; written after the data file
//	snap-<LSN>.nks            snapshots of earlier releases (read only)
//
// Every change is a record committed to the log (Store.Commit) before it is
// applied and, under SyncAlways, before the call returns; concurrent
// commits share fsyncs (group commit). Checkpoint writes a snapshot
// crash-safely with nearkit.SaveFile, records the log position it covers
// in its manifest and removes the segments it made obsolete. A snapshot's
// data file is exactly what the state's WriteTo writes, so the snapshot
// of an Index is an index file that hnsw.Open can memory-map for
// read-only serving (Store.Snapshot names it). Checkpoint holds writers off only
// while the state serialises itself to memory (or, for a Capturer, only
// what it cannot capture copy-on-write), not while the snapshot is
// written and synced. Open loads the newest valid snapshot and replays the
// log after it; Recovery documents how torn tails, corruption, missing
// segments and snapshots newer than the log are handled.
//
// Index wraps any nearkit.Index: Add, AddBatch, Delete and Update are
// logged, searches go straight to the index. Package collection builds
// string keys, metadata filters and payloads on a Store.
package durable
