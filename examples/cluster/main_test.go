package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary serve as a node process: the driver
// re-executes os.Executable with -node.
func TestMain(m *testing.M) {
	if os.Getenv("NEARKIT_CLUSTER_NODE") == "1" {
		if err := run(os.Args[1:]); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestDriver runs the whole demo on a small data set: three processes,
// one SIGKILLed and restarted; drive fails unless every stage keeps
// recall 1.
func TestDriver(t *testing.T) {
	var out bytes.Buffer
	err := drive(context.Background(), &out, 3000, 8)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "n1 rejoined") {
		t.Fatal("no rejoin in the output")
	}
}
