package durable

import (
	"fmt"
	"time"
)

// SyncPolicy says when a committed record reaches stable storage. The zero
// value is SyncAlways.
type SyncPolicy struct {
	mode     syncMode
	interval time.Duration
}

type syncMode uint8

const (
	syncAlways syncMode = iota
	syncInterval
	syncNever
)

var (
	// SyncAlways makes every commit wait until its record is fsynced
	// (fdatasync on Linux). Concurrent commits share one fsync (group
	// commit): while one fsync runs, the records appended meanwhile are
	// gathered and the next fsync covers them all, so N writers cost about
	// one fsync per round rather than N. Nothing acknowledged is lost to a
	// process crash or a power failure.
	SyncAlways = SyncPolicy{mode: syncAlways}
	// SyncNever never fsyncs on its own: records are written to the
	// operating system in 1 MiB batches, and synced only by Sync,
	// Checkpoint and Close. Acknowledged records still in the process's
	// buffer are lost when the process dies. For tests and bulk loads.
	SyncNever = SyncPolicy{mode: syncNever}
)

// SyncInterval returns a policy that fsyncs every d from a background
// goroutine: commits return as soon as their record is in the log's
// buffer. The loss window is bounded: a crash of the process or the
// machine loses at most the records acknowledged in the last d plus the
// duration of one fsync; records never reach the file out of order, so
// what survives is always a prefix of what was acknowledged. d must be
// positive.
func SyncInterval(d time.Duration) SyncPolicy {
	return SyncPolicy{mode: syncInterval, interval: d}
}

func (p SyncPolicy) valid() bool {
	switch p.mode {
	case syncAlways, syncNever:
		return true
	case syncInterval:
		return p.interval > 0
	}
	return false
}

// String returns "always", "never" or "interval(d)".
func (p SyncPolicy) String() string {
	switch p.mode {
	case syncAlways:
		return "always"
	case syncNever:
		return "never"
	case syncInterval:
		return fmt.Sprintf("interval(%v)", p.interval)
	}
	return fmt.Sprintf("SyncPolicy(%d)", p.mode)
}
