//go:build race && gc && !purego

package kmeans

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestRaceAnnotations checks that a race between the assembly panel
// kernel's read of the centroid panels and a Go write is reported. The racy
// code runs in a child process (the test binary itself), since a detected
// race fails the process it is in.
func TestRaceAnnotations(t *testing.T) {
	const dim = 8
	if os.Getenv("KMEANS_RACE_CHILD") == "1" {
		x := make([]float32, panelRows*dim)
		panels := make([]float32, panelWidth*dim)
		norms := make([]float32, panelWidth)
		bestV := make([]float32, panelRows*panelWidth)
		bestI := make([]int32, panelRows*panelWidth)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); panelArgmin(x, dim, panels, 1, norms, 0, bestV, bestI) }()
		go func() { defer wg.Done(); panels[len(panels)-1] = 1 }()
		wg.Wait()
		return
	}
	if !hasPanel {
		t.Skip("no AVX-512 panel kernel on this CPU")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRaceAnnotations$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KMEANS_RACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATA RACE") {
		t.Fatalf("the race between the panel kernel and a write went unreported (err %v):\n%s", err, out)
	}
}
