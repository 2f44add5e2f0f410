package durable

import (
	"math/bits"
	"time"
)

// Stats describe a Store's log and checkpoints.
type Stats struct {
	// LogBytes is the size of the live log segments (those not yet made
	// obsolete by a checkpoint), including bytes still in the buffer.
	LogBytes int64
	// Segments is the number of live segment files.
	Segments int
	// LastLSN is the log sequence number of the newest record, SyncedLSN
	// that of the newest one known to be on stable storage: under
	// SyncInterval the records between them are the loss window.
	LastLSN   uint64
	SyncedLSN uint64
	// RecordsSinceCheckpoint and BytesSinceCheckpoint count what the log
	// holds after the newest snapshot (what recovery would replay).
	RecordsSinceCheckpoint int64
	BytesSinceCheckpoint   int64
	// Checkpoints counts completed checkpoints; LastCheckpoint is when the
	// newest one finished, LastCheckpointDuration how long it took in all
	// and LastCheckpointPause how long of that writers were held off (the
	// in-memory snapshot; see Store.Checkpoint). LastCheckpointError is the
	// error of the last automatic checkpoint, nil if it succeeded.
	Checkpoints            int64
	LastCheckpoint         time.Time
	LastCheckpointDuration time.Duration
	LastCheckpointPause    time.Duration
	LastCheckpointBytes    int64
	LastCheckpointError    error
	// Fsyncs counts the fsyncs of log segments and SyncedRecords the
	// records they made durable; their ratio is the group-commit factor.
	Fsyncs        int64
	SyncedRecords int64
	// FsyncLatency is the distribution of those fsyncs' durations.
	FsyncLatency Histogram
}

// histBuckets: bucket i counts durations in [2^i, 2^(i+1)) microseconds
// (bucket 0 also those below 1 µs), the last one everything from about 35
// minutes up.
const histBuckets = 32

// Histogram is a latency distribution in power-of-two microsecond buckets.
type Histogram struct {
	// Buckets[i] counts durations in [2^i, 2^(i+1)) µs.
	Buckets [histBuckets]int64
	Count   int64
	Sum     time.Duration
	Max     time.Duration
}

func (h *Histogram) add(d time.Duration) {
	us := uint64(max(d.Microseconds(), 1))
	h.Buckets[min(bits.Len64(us)-1, histBuckets-1)]++
	h.Count++
	h.Sum += d
	h.Max = max(h.Max, d)
}

// Mean returns the average duration, 0 for an empty histogram.
func (h Histogram) Mean() time.Duration {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / time.Duration(h.Count)
}

// Quantile returns an upper bound of the q-quantile (0 ≤ q ≤ 1): the upper
// edge of the bucket holding it, capped by Max.
func (h Histogram) Quantile(q float64) time.Duration {
	if h.Count == 0 {
		return 0
	}
	rank := int64(q * float64(h.Count))
	var seen int64
	for i, c := range h.Buckets {
		seen += c
		if seen > rank {
			return min(time.Duration(uint64(1)<<(i+1))*time.Microsecond, h.Max)
		}
	}
	return h.Max
}
