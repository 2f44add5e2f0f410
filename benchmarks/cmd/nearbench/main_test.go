package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nearkit/nearkit/benchmarks/dataset"
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
	// A second run appends its point after the first instead of replacing it.
	err = run([]string{"-n", "800", "-nq", "30", "-dim", "16", "-index", "flat", "-mintime", "1ms", "-minqueries", "1",
		"-cache", dir, "-json", jsonPath, "-threads", "2", "-noprogress"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("%d JSON lines after two runs, want 2", n)
	}
	if st, err := os.Stat(plotPath); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-metric", "hamming"},
		{"-index", "nosuch"},
		{"-index", "ivfpq", "-m", "7"},
		{"-index", "ivfflat", "-rerank", "2"},
		{"-index", "hnsw", "-nprobe", "4"},
		{"-ef", "10,x"},
		{"-index", "flat", "-ef", "10"},
		{"-nprobe", "4"},
		{"-M", "0"},
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

func TestRunPrefixDataset(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "tiny")
	base, queries, err := dataset.Synthetic(dataset.SyntheticConfig{N: 300, Queries: 10, Dim: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := dataset.SaveFvecs(prefix+"_base.fvecs", base, 8); err != nil {
		t.Fatal(err)
	}
	if err := dataset.SaveFvecs(prefix+"_query.fvecs", queries, 8); err != nil {
		t.Fatal(err)
	}
	args := []string{"-dataset", prefix, "-index", "flat", "-mintime", "1ms", "-minqueries", "1", "-noprogress"}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	gt, k, err := dataset.LoadIvecs(prefix+"_gt.ivecs", 0)
	if err != nil || k != 100 || len(gt) != 10*100 {
		t.Fatalf("ground truth beside the data: k=%d len=%d %v", k, len(gt), err)
	}
	// Another metric does not overwrite the data set's own ground truth.
	if err := run(append(args, "-metric", "ip")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(prefix + "_ip_gt.ivecs"); err != nil {
		t.Errorf("ip ground truth: %v", err)
	}
	again, _, _ := dataset.LoadIvecs(prefix+"_gt.ivecs", 0)
	if !slices.Equal(gt, again) {
		t.Error("X_gt.ivecs changed")
	}
}
