package hnsw

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoDenseLinearAlgebra: the graph index, which imports pq for its
// compressed mode, must not link gonum (its LAPACK is OPQ's, in pq/opq):
// every program embedding an HNSW index would carry it otherwise. The test
// asks the go tool for the package's dependencies, and skips where the
// tool is not installed.
func TestNoDenseLinearAlgebra(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, msg)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/nearkit/nearkit/hnsw" {
		t.Fatalf("go list -deps printed %q", out)
	}
	var pq bool
	for _, d := range deps {
		if strings.HasPrefix(d, "gonum.org/") {
			t.Errorf("hnsw depends on %s", d)
		}
		pq = pq || d == "github.com/nearkit/nearkit/pq"
	}
	if !pq {
		// Then the test no longer guards the import it was written for.
		t.Log("hnsw no longer imports pq")
	}
}
