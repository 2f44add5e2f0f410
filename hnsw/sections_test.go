package hnsw

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
	"github.com/nearkit/nearkit/internal/binfmt"
)

// fileLayoutOf parses the header of a version 2 or 3 file and returns
// its version and layout.
func fileLayoutOf(t testing.TB, b []byte) (uint32, fileLayout) {
	t.Helper()
	br, err := binfmt.NewReader(bytes.NewReader(b), magic, fileVersion)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	x := new(Index)
	if err := x.setup(h); err != nil {
		t.Fatal(err)
	}
	return h.version, x.layout(uint64(h.n), uint64(h.words), uint64(br.Offset()))
}

// reseal recomputes the section checksums and the file checksum of a
// version-3 file after a forgery that keeps its layout, as a forger who
// knows the format would.
func reseal(t testing.TB, b []byte) []byte {
	t.Helper()
	_, l := fileLayoutOf(t, b)
	foot := l.end()
	for i := range l.secs {
		binary.LittleEndian.PutUint32(b[foot+4*uint64(i):], binfmt.Checksum(b[l.start[i]:l.start[i+1]]))
	}
	return resum(b)
}

func isData(err error) bool {
	return errors.Is(err, nearkit.ErrCorrupt) || errors.Is(err, nearkit.ErrIncompatible)
}

// hostileConfigs are the index kinds whose files the hostile-stream tests
// attack: each quantization, and a normalising metric.
var hostileConfigs = []Config{
	{Dim: 4, M: 2, Seed: 1},
	{Dim: 8, M: 4, Seed: 2, Metric: distance.Cosine},
	{Dim: 8, M: 4, Seed: 3, Quantization: SQ8},
	{Dim: 8, M: 4, Seed: 4, Quantization: QGraph, QGraphSubspaces: 4},
}

func configName(c Config) string { return fmt.Sprintf("%v/%v", c.Metric, c.Quantization) }

// TestOpenChecksSections: a bit flipped anywhere outside the vectors and
// codes of a file is refused by Open with default options (an error
// wrapping ErrCorrupt or ErrIncompatible that names the section), and
// anywhere at all with VerifyChecksum. Without -short every byte is
// tried.
func TestOpenChecksSections(t *testing.T) {
	if !hostLittleEndian {
		t.Skip("big-endian hosts load a copy instead of mapping")
	}
	most := 1 << 20
	if testing.Short() || raceEnabled {
		most = 40
	}
	for _, cfg := range hostileConfigs {
		t.Run(configName(cfg), func(t *testing.T) {
			x, _ := churned(t, cfg, 64)
			b := fileBytes(t, x)
			if _, err := openMapped(alignedCopy(b), OpenOptions{VerifyChecksum: true}); err != nil {
				t.Fatal(err)
			}
			version, l := fileLayoutOf(t, b)
			if version != fileVersion {
				t.Fatalf("written as version %d", version)
			}
			foot := l.end()
			// where names the byte at off and says whether a default
			// Open must refuse a flip of it.
			where := func(off uint64) (string, bool) {
				for i, s := range l.secs {
					if off >= l.start[i] && off < l.start[i+1] {
						return s.String(), !s.bulk()
					}
					if off >= foot+4*uint64(i) && off < foot+4*uint64(i+1) {
						return s.String() + " checksum", !s.bulk()
					}
				}
				if off < uint64(len(b))-4 {
					return "section count", true
				}
				return "file checksum", false
			}
			offs := attack.Offsets(len(b), most)
			// The first, a middle and the last byte of every section.
			for i := range l.secs {
				if lo, hi := l.start[i], l.start[i+1]; hi > lo {
					offs = append(offs, int(lo), int(lo+(hi-lo)/2), int(hi-1))
				}
			}
			rng := rand.New(rand.NewPCG(uint64(len(b)), 3))
			tried := map[string]int{}
			for _, off := range offs {
				bad := alignedCopy(b)
				bit := rng.IntN(8)
				bad[off] ^= 1 << bit
				name, checked := where(uint64(off))
				tried[name]++
				_, err := openMapped(bad, OpenOptions{})
				switch {
				case err != nil && !isData(err):
					t.Fatalf("bit %d of byte %d (%s): error %v wraps neither ErrCorrupt nor ErrIncompatible", bit, off, name, err)
				case checked && err == nil:
					t.Fatalf("bit %d of byte %d (%s) flipped: accepted by Open with default options", bit, off, name)
				case checked && name != "header" && name != "section count" &&
					!strings.Contains(err.Error(), strings.TrimSuffix(name, " checksum")+" section checksum mismatch"):
					t.Fatalf("bit %d of byte %d (%s): error %q does not name the section", bit, off, name, err)
				}
				if _, err := openMapped(bad, OpenOptions{VerifyChecksum: true}); !isData(err) {
					t.Fatalf("bit %d of byte %d (%s) flipped: VerifyChecksum gives %v", bit, off, name, err)
				}
			}
			for _, s := range l.secs {
				if tried[s.String()] == 0 && s != secUpper {
					t.Fatalf("no flip tried in the %v section", s)
				}
			}
			t.Logf("%d flips tried: %v", len(offs), tried)
		})
	}
}

// TestForgedSmallSections: the corruptions a default Open used to serve
// — a changed ID, tombstone, metric, efSearch, link count — each forged
// with the file checksum recomputed (so each is structurally valid), are
// refused by Read and by Open with default options, naming the section.
func TestForgedSmallSections(t *testing.T) {
	x, _ := churned(t, Config{Dim: 4, M: 2, Seed: 1}, 64)
	b := fileBytes(t, x)
	_, l := fileLayoutOf(t, b)
	d := x.dir.Load()
	var live uint32
	for _, s := range x.ids {
		live = max(live, s) // a live slot, the same on every run
	}
	if *x.metaOf(live)&(flagDeleted|flagFree) != 0 {
		t.Fatal("slot is not live")
	}
	slot := func(s section, size int, i uint32) uint64 { return l.at(s) + uint64(size)*uint64(i) }
	// The upper lists: the first slot with a level, its level-1 count.
	var upperSlot uint32
	for s := range x.nslots.Load() {
		if x.levelOf(d, s) > 0 && x.list(d, s, 1)[0] > 0 {
			upperSlot = s
			break
		}
	}
	if x.levelOf(d, upperSlot) == 0 {
		t.Fatal("no upper lists in the test index")
	}
	for _, tc := range []struct {
		name  string
		sec   section
		forge func(b []byte)
	}{
		{"label", secLabels, func(b []byte) { b[slot(secLabels, 8, live)+7] ^= 0x80 }},
		{"tombstone", secMeta, func(b []byte) { b[slot(secMeta, 4, live)+1] |= flagDeleted >> 8 }},
		{"metric", secHeader, func(b []byte) { b[16] = uint8(distance.InnerProduct) }},
		{"efSearch", secHeader, func(b []byte) { binary.LittleEndian.PutUint32(b[25:], 7) }},
		{"level-0 count", secLinks, func(b []byte) { b[slot(secLinks, 4*x.stride0, live)]-- }},
		{"upper count", secUpper, func(b []byte) {
			at := l.at(secUpper)
			for s := range upperSlot {
				at += 4 * uint64(x.levelOf(d, s)*x.strideU)
			}
			b[at]--
		}},
	} {
		bad := bytes.Clone(b)
		tc.forge(bad)
		resum(bad)
		want := tc.sec.String() + " section checksum mismatch"
		if _, err := Read(bytes.NewReader(bad)); !isCorrupt(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s forged, Read: %v", tc.name, err)
		}
		if !hostLittleEndian {
			continue
		}
		if _, err := openMapped(alignedCopy(bad), OpenOptions{}); !isCorrupt(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s forged, Open: %v", tc.name, err)
		}
		// Resealed, each is a valid file that says something else.
		if _, err := openMapped(alignedCopy(reseal(t, bad)), OpenOptions{}); err != nil {
			t.Errorf("%s forged and resealed, Open: %v", tc.name, err)
		}
	}
	// The section count, forged.
	bad := bytes.Clone(b)
	bad[len(bad)-8]++
	if _, err := Read(bytes.NewReader(resum(bad))); !isCorrupt(err) {
		t.Fatalf("section count forged: %v", err)
	}
	if _, err := openMapped(alignedCopy(bad), OpenOptions{}); hostLittleEndian && !isCorrupt(err) {
		t.Fatalf("section count forged, Open: %v", err)
	}
}

// TestOpenVersion2: files written before section checksums still load and
// open with the results Read gives, with the documented weaker check (a
// flipped label is served unless VerifyChecksum is set), and Save writes
// them in the current version, whose labels Open checks.
func TestOpenVersion2(t *testing.T) {
	for _, name := range []string{"v2.hnsw", "v2-sq8.hnsw", "v2-qgraph.hnsw"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			version, l := fileLayoutOf(t, b)
			if version != 2 {
				t.Fatalf("fixture is version %d", version)
			}
			x, err := Read(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			// 40 vectors, IDs 100+i, every seventh deleted (the fixture's
			// generator, in the commit that added it).
			_, has100 := x.ids[100]
			_, has101 := x.ids[101]
			_, has135 := x.ids[135]
			if x.Len() != 34 || has100 || !has101 || has135 || !x.Trained() {
				t.Fatalf("Len %d, trained %v", x.Len(), x.Trained())
			}
			queries := make([]float32, 0, 10*4)
			for i := range 10 {
				queries = append(queries, float32(i)*0.3, 1-float32(i)*0.1, 0.5, float32(i%3))
			}
			if !hostLittleEndian {
				return
			}
			y, err := openMapped(alignedCopy(b), OpenOptions{VerifyChecksum: true})
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, "Open", x, y, queries, 5, nearkit.SearchOptions{})
			// A flipped label goes unnoticed without VerifyChecksum.
			bad := alignedCopy(b)
			bad[l.at(secLabels)] ^= 0x40
			if _, err := openMapped(bad, OpenOptions{}); err != nil {
				t.Fatalf("version 2, flipped label, default options: %v", err)
			}
			if _, err := openMapped(bad, OpenOptions{VerifyChecksum: true}); !isCorrupt(err) {
				t.Fatalf("version 2, flipped label, VerifyChecksum: %v", err)
			}
			// Written again, it is version 3 and the label is checked.
			nb := fileBytes(t, y)
			version, l = fileLayoutOf(t, nb)
			if version != fileVersion {
				t.Fatalf("rewritten as version %d", version)
			}
			z, err := openMapped(alignedCopy(nb), OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sameResults(t, "rewritten", x, z, queries, 5, nearkit.SearchOptions{})
			nb[l.at(secLabels)] ^= 0x40
			if _, err := openMapped(alignedCopy(nb), OpenOptions{}); !isCorrupt(err) {
				t.Fatalf("version 3, flipped label, default options: %v", err)
			}
		})
	}
}
