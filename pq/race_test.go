//go:build race && gc && !purego && (amd64 || arm64)

package pq

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestRaceAnnotations checks that a race between an assembly fast-scan
// kernel's write and a Go read of its output is reported. The racy code
// runs in a child process (the test binary itself), since a detected race
// fails the process it is in.
func TestRaceAnnotations(t *testing.T) {
	if os.Getenv("PQ_RACE_CHILD") == "1" {
		codes, lut, out := make([]byte, 32), make([]byte, 32), make([]uint16, 32)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); fastScan(codes, lut, 1, 1, out) }()
		go func() { defer wg.Done(); out[31] = 1 }()
		wg.Wait()
		return
	}
	if fastScanImplementation() == "generic" {
		t.Skip("no assembly fast-scan kernel on this CPU")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceAnnotations$", "-test.count=1")
	cmd.Env = append(os.Environ(), "PQ_RACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("the race between the %s fast-scan kernel and a write went unreported (err %v):\n%s", fastScanImplementation(), err, out)
	}
}
