package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunTinySynthetic(t *testing.T) {
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "out.json")
	plotPath := filepath.Join(dir, "out.png")
	err := run([]string{"-n", "800", "-nq", "30", "-dim", "16", "-index", "flat", "-mintime", "1ms", "-minqueries", "1",
		"-cache", dir, "-json", jsonPath, "-plot", plotPath, "-threads", "2", "-noprogress"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		lines++
		var obj map[string]any
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		if obj["index"] != "flat" || obj["recall"] != 1.0 || obj["dataset"] != "synthetic" {
			t.Errorf("line %d: %s", lines, sc.Bytes())
		}
	}
	if lines != 1 {
		t.Errorf("%d JSON lines, want 1", lines)
	}
	if st, err := os.Stat(plotPath); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-metric", "hamming"},
		{"-index", "nosuch"},
		{"-index", "ivfpq"},
		{"-ef", "10,x"},
		{"-k", "0"},
		{"-threads", "0"},
		{"-bogus"},
		{"extra"},
	} {
		if err := run(append(args, "-noprogress")); err == nil {
			t.Errorf("%s accepted", strings.Join(args, " "))
		}
	}
}
