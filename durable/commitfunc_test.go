package durable

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/nearkit/nearkit"
)

// seqState records the records replayed into it; its snapshots are empty
// (the tests using it never checkpoint).
type seqState struct{ recs [][]byte }

func (s *seqState) Restore(r io.Reader) error {
	if r != nil {
		return fmt.Errorf("%w: seqState takes no snapshots", nearkit.ErrIncompatible)
	}
	s.recs = nil
	return nil
}

func (s *seqState) Replay(rec []byte) error {
	s.recs = append(s.recs, append([]byte(nil), rec...))
	return nil
}

func (s *seqState) WriteTo(io.Writer) (int64, error) { return 0, nil }

// TestCommitFuncOrder: concurrent CommitFuncs whose builds hand out a
// counter reach the log in counter order, which is what lets the
// collection's replay insist on IDs handed out in turn; a failed build
// and an oversized record append nothing.
func TestCommitFuncOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{Sync: SyncAlways, CheckpointBytes: -1}
	st, err := Open(ctx, dir, opts, &seqState{})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var mu sync.Mutex
	next := uint64(0)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				err := st.CommitFunc(func() ([]byte, error) {
					mu.Lock()
					defer mu.Unlock()
					next++
					return binary.LittleEndian.AppendUint64(nil, next), nil
				}, nil)
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	refused := errors.New("refused")
	if err := st.CommitFunc(func() ([]byte, error) { return nil, refused }, nil); !errors.Is(err, refused) {
		t.Fatalf("failed build: %v", err)
	}
	if err := st.CommitFunc(func() ([]byte, error) { return make([]byte, MaxRecordBytes+1), nil }, nil); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Fatalf("oversized record: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var s seqState
	st, err = Open(ctx, dir, opts, &s)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if len(s.recs) != writers*each {
		t.Fatalf("replayed %d records, want %d", len(s.recs), writers*each)
	}
	for i, r := range s.recs {
		if got := binary.LittleEndian.Uint64(r); got != uint64(i+1) {
			t.Fatalf("record %d carries %d: log order is not build order", i, got)
		}
	}
}
