// Command open measures what hnsw.Open's checks cost on a saved index:
// it writes the index given by -index again in the current format, then
// alternates Open of that file with default options, Open with
// VerifyChecksum, Open of the -index file itself (when it is an older
// version, which has no section checksums) and Load, -pairs times, and
// prints the median of each. The files stay in the page cache after the
// first round, so the times are those of a warm open (a cold open adds
// reading the sections each check touches from disk).
//
//	go run ./hnsw/_bench/open -index /tmp/nearkit-paired/fm-none.hnsw -pairs 7
package main

import (
	"flag"
	"fmt"
	"hash/crc32"
	"log"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nearkit/nearkit/hnsw"
)

func main() {
	var (
		path  = flag.String("index", "", "saved index (any version; hnsw/_bench/paired -build writes one)")
		pairs = flag.Int("pairs", 7, "rounds of alternating runs")
		work  = flag.String("work", os.TempDir(), "directory for the rewritten file")
	)
	flag.Parse()
	log.SetFlags(0)
	if *path == "" {
		log.Fatal("open: -index is required")
	}
	x, err := hnsw.Load(*path)
	if err != nil {
		log.Fatal(err)
	}
	cur := filepath.Join(*work, "open-bench-current.hnsw")
	if err := x.Save(cur); err != nil {
		log.Fatal(err)
	}
	defer os.Remove(cur)
	cfg := x.Config()
	fmt.Printf("index: %d vectors, dim %d, M %d, %v; file %d MB\n", x.Len(), cfg.Dim, cfg.M, cfg.Quantization, size(cur)>>20)
	// What Open checks by default is about the file less its vectors and
	// codes (slots, not Len, count in the file; Len is close enough here).
	bulk := int64(x.Len()) * int64(cfg.Dim) * 4
	if cfg.Quantization == hnsw.SQ8 {
		bulk += int64(x.Len()) * int64(cfg.Dim)
	}
	x = nil
	data, err := os.ReadFile(cur)
	if err != nil {
		log.Fatal(err)
	}
	small := data[:max(0, int64(len(data))-bulk)]
	table := crc32.MakeTable(crc32.Castagnoli)
	runs := []struct {
		name string
		f    func() error
	}{
		{"Open (current version, default)", func() error { return open(cur, hnsw.OpenOptions{}) }},
		{"Open (current version, VerifyChecksum)", func() error { return open(cur, hnsw.OpenOptions{VerifyChecksum: true}) }},
		{"Open (-index file, default)", func() error { return open(*path, hnsw.OpenOptions{}) }},
		{"Load (current version)", func() error { _, err := hnsw.Load(cur); return err }},
		{fmt.Sprintf("CRC-32C of %d MB in memory", len(small)>>20), func() error { crc32.Checksum(small, table); return nil }},
	}
	took := make([][]time.Duration, len(runs))
	for range *pairs + 1 { // the first round warms the page cache
		for i, r := range runs {
			start := time.Now()
			if err := r.f(); err != nil {
				log.Fatalf("%s: %v", r.name, err)
			}
			took[i] = append(took[i], time.Since(start))
		}
	}
	for i, r := range runs {
		t := slices.Clone(took[i][1:])
		slices.Sort(t)
		fmt.Printf("%-40s median %8.2f ms  (min %.2f, max %.2f)\n", r.name, ms(t[len(t)/2]), ms(t[0]), ms(t[len(t)-1]))
	}
}

func open(path string, opts hnsw.OpenOptions) error {
	x, err := hnsw.Open(path, opts)
	if err != nil {
		return err
	}
	return x.Close()
}

func size(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }
