package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/distance"
	"github.com/nearkit/nearkit/internal/attack"
)

const winkSample = `{"precision":8,"l2NormIndex":3,"wordIndex":4,"size":3,"dimensions":3,
"words":["the","of","and"],
"vectors":{"the":[1,2,3,3.74,0],"of":[-1.5,0,0.25,1.52,1],"and":[0,0,1,1,2]},
"unkVector":[0,0,0,0,-1]}`

func TestReadWink(t *testing.T) {
	data, dim, words, err := ReadWink(strings.NewReader(winkSample), "s", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 2, 3, -1.5, 0, 0.25, 0, 0, 1}
	if dim != 3 || strings.Join(words, ",") != "the,of,and" || len(data) != len(want) {
		t.Fatalf("dim %d words %v data %v", dim, words, data)
	}
	for i := range want {
		if data[i] != want[i] {
			t.Fatalf("data %v, want %v", data, want)
		}
	}
	data, _, words, err = ReadWink(strings.NewReader(winkSample), "s", 2)
	if err != nil || len(words) != 2 || len(data) != 6 {
		t.Fatalf("limit 2: %v %v %v", words, data, err)
	}
}

func TestReadWinkHostile(t *testing.T) {
	for _, in := range []string{
		``,
		`[]`,
		`{"dimensions":3}`,
		`{"vectors":{"a":[1,2,3]},"dimensions":3}`,
		`{"dimensions":1e12,"vectors":{}}`,
		`{"dimensions":-3,"vectors":{}}`,
		`{"dimensions":2.5,"vectors":{}}`,
		`{"dimensions":3,"vectors":{}}`,
		`{"dimensions":3,"vectors":{"a":[1,2]}}`,
		`{"dimensions":3,"vectors":{"a":[1,2,3,4,5,6,7,8]}}`,
		`{"dimensions":3,"vectors":{"a":[1,2,1e39]}}`,
		`{"dimensions":3,"vectors":{"a":[1,2,"x"]}}`,
		`{"dimensions":3,"vectors":{"a":{}}}`,
		`{"dimensions":3,"vectors":{"a":[1,2,3]`,
		winkSample[:len(winkSample)/2],
	} {
		if _, _, _, err := ReadWink(strings.NewReader(in), "h", 0); !errors.Is(err, nearkit.ErrCorrupt) {
			t.Errorf("%.40q: err %v, want ErrCorrupt", in, err)
		}
	}
}

// TestReadWinkTruncated: the text has no checksum, so a flipped digit is
// a different number, but every cut before the vectors object closes is
// refused, within a small allocation bound.
func TestReadWinkTruncated(t *testing.T) {
	end := strings.Index(winkSample, `]},`) + 2
	for off := range end {
		res := attack.Run(func(r io.Reader) error { _, _, _, err := ReadWink(r, "t", 0); return err }, []byte(winkSample[:off]))
		attack.Check(t, fmt.Sprintf("cut at %d", off), res, attack.Budget{PerByte: 64, Fixed: 1 << 20}, true, nearkit.ErrCorrupt)
	}
}

func TestLoadWink(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString(`{"dimensions":2,"vectors":{`)
	const n = 50
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"w%d":[%d,1,1.4,%d]`, i, i, i)
	}
	b.WriteString(`}}`)
	path := filepath.Join(dir, "words.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ds, err := Load(path, Options{Metric: distance.Cosine, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Dim != 2 || ds.N() != n-n/10 || ds.NQ() != n/10 || ds.Name != "words" || filepath.Dir(ds.GTSave) != dir {
		t.Fatalf("dim %d, %d base, %d queries, name %q, gt %s", ds.Dim, ds.N(), ds.NQ(), ds.Name, ds.GTSave)
	}
	seen := map[float32]int{}
	for _, v := range append(append([]float32{}, ds.Base...), ds.Queries...) {
		if v != 1 {
			seen[v]++
		}
	}
	for i := 2; i < n; i++ { // rows 0 and 1 hold only 0 and 1
		if seen[float32(i)] != 1 {
			t.Fatalf("row %d appears %d times", i, seen[float32(i)])
		}
	}
	again, _ := Load(path, Options{Metric: distance.Cosine, CacheDir: dir})
	for i := range ds.Queries {
		if again.Queries[i] != ds.Queries[i] {
			t.Fatal("the query split moved between loads")
		}
	}
}
