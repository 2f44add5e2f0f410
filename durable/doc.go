// Package durable keeps an in-memory state — any nearkit index, or a
// collection built on one — safe across crashes with a write-ahead log and
// checkpoints.
//
// A Store owns a directory:
//
//	LOCK                      flock'ed while open: a second process is kept out
//	wal-<first LSN>.log       log segments: length + CRC-32C framed records
//	snap-<LSN>.nks            snapshots: the state as of record LSN, checksummed
//
// Every change is a record committed to the log (Store.Commit) before it is
// applied and, under SyncAlways, before the call returns; concurrent
// commits share fsyncs (group commit). Checkpoint writes a snapshot
// crash-safely with nearkit.SaveFile, records the log position it covers
// and removes the segments it made obsolete; it holds writers off only
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
