package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
)

// TestQuickstart runs the program and checks what it prints: the noisy
// copy finds its original, the filter and the delete exclude it, and the
// reopened file answers like the index it was saved from.
func TestQuickstart(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	main()
	os.Stdout = stdout
	w.Close()
	out := string(<-done)
	lines := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			lines[k] = v
		}
	}
	if !strings.HasPrefix(lines["nearest"], "  1042 ") {
		t.Errorf("nearest: %q, want 1042 first", lines["nearest"])
	}
	for _, k := range []string{"IDs divisible by 3", "after deleting 1042", "after reopening"} {
		if v, ok := lines[k]; !ok || strings.Contains(v, " 1042 ") {
			t.Errorf("%s: %q, want results without 1042", k, v)
		}
	}
	if lines["after reopening"] != lines["after deleting 1042"] {
		t.Errorf("reopened index answers %q, saved one %q", lines["after reopening"], lines["after deleting 1042"])
	}
	if !bytes.Contains([]byte(out), []byte("4999 vectors")) {
		t.Errorf("output:\n%s", out)
	}
}
