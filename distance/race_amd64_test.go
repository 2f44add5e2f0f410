//go:build race && gc && !purego

package distance

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestRaceAnnotations checks that a race between an assembly kernel's read
// and a Go write is reported. The racy code runs in a child process (the
// test binary itself), since a detected race fails the process it is in.
func TestRaceAnnotations(t *testing.T) {
	if os.Getenv("DISTANCE_RACE_CHILD") == "1" {
		a, b := make([]float32, 64), make([]float32, 64)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); sinkF = SquaredL2(a, b) }()
		go func() { defer wg.Done(); b[63] = 1 }()
		wg.Wait()
		return
	}
	if !useAVX2 {
		t.Skip("no assembly kernels on this CPU")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceAnnotations$", "-test.count=1")
	cmd.Env = append(os.Environ(), "DISTANCE_RACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("the race between SquaredL2's assembly and a write went unreported (err %v):\n%s", err, out)
	}
}
