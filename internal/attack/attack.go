// Package attack is the shared harness of the hostile-input tests: it
// feeds a reader every truncation and single-bit flip of a valid stream
// (or a sample of them under -short) and asserts that each is refused
// with an error, never a panic, and that no attempt allocates more than a
// small multiple of the bytes it consumed plus a fixed bound. Index
// packages call it from their tests with their own readers and forged
// streams.
package attack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// Budget bounds what one read of a hostile stream may cost.
type Budget struct {
	// PerByte is the most bytes allocated per byte consumed (0: 4).
	PerByte uint64
	// Fixed is the allocation allowed on top of PerByte × consumed, for
	// buffers of a fixed size such as one storage chunk (0: 4 MiB).
	Fixed uint64
	// Time is the most one read may take (0: 2 s).
	Time time.Duration
}

func (b Budget) fill() Budget {
	if b.PerByte == 0 {
		b.PerByte = 4
	}
	if b.Fixed == 0 {
		b.Fixed = 4 << 20
	}
	if b.Time == 0 {
		b.Time = 2 * time.Second
	}
	return b
}

// Reader is the reader under attack: it decodes one stream and returns
// its error (and should drop what it built).
type Reader func(io.Reader) error

// Result is what one hostile read did.
type Result struct {
	Err       error
	Panic     any
	Consumed  int64
	Allocated uint64
	Took      time.Duration
}

// Run reads data once through read, counting the bytes consumed, the bytes
// allocated (the whole process's, so tests using it should not run in
// parallel with others) and the time taken, and recovering a panic.
func Run(read Reader, data []byte) (res Result) {
	cr := &countingReader{r: bytes.NewReader(data)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	func() {
		defer func() { res.Panic = recover() }()
		res.Err = read(cr)
	}()
	res.Took = time.Since(start)
	runtime.ReadMemStats(&after)
	res.Consumed = cr.n
	res.Allocated = after.TotalAlloc - before.TotalAlloc
	return res
}

// Check fails t unless the read refused the stream (when wantErr) with an
// error wrapping one of targets (any error when none are given), without
// panicking, within budget b.
func Check(t testing.TB, what string, res Result, b Budget, wantErr bool, targets ...error) {
	t.Helper()
	b = b.fill()
	if res.Panic != nil {
		t.Fatalf("%s: panic: %v", what, res.Panic)
	}
	if wantErr {
		if res.Err == nil {
			t.Fatalf("%s: accepted", what)
		}
		if len(targets) > 0 && !isAny(res.Err, targets) {
			t.Fatalf("%s: error %v wraps none of %v", what, res.Err, targets)
		}
	}
	if limit := b.PerByte*uint64(res.Consumed) + b.Fixed; res.Allocated > limit {
		t.Fatalf("%s: allocated %d bytes having consumed %d (limit %d)", what, res.Allocated, res.Consumed, limit)
	}
	if res.Took > b.Time {
		t.Fatalf("%s: took %v", what, res.Took)
	}
}

func isAny(err error, targets []error) bool {
	for _, e := range targets {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Stream attacks read with every truncation of data and every single-bit
// flip (under -short, or when there would be more than most of each, an
// evenly spread sample of most plus the first and last 64 offsets). Every
// attempt must be refused with an error wrapping one of targets, within
// b. It returns the number of streams tried.
func Stream(t testing.TB, read Reader, data []byte, b Budget, most int, targets ...error) int {
	t.Helper()
	if res := Run(read, data); res.Err != nil || res.Panic != nil {
		t.Fatalf("the unaltered stream fails: %v %v", res.Err, res.Panic)
	}
	if testing.Short() {
		most = min(most, 40)
	}
	tried := 0
	for _, off := range Offsets(len(data), most) {
		Check(t, fmt.Sprintf("truncated at %d of %d", off, len(data)), Run(read, data[:off]), b, true, targets...)
		tried++
	}
	flipped := make([]byte, len(data))
	r := rand.New(rand.NewPCG(uint64(len(data)), 7))
	for _, off := range Offsets(len(data), most) {
		copy(flipped, data)
		bit := r.IntN(8)
		flipped[off] ^= 1 << bit
		Check(t, fmt.Sprintf("bit %d of byte %d flipped", bit, off), Run(read, flipped), b, true, targets...)
		tried++
	}
	return tried
}

// Field is a count or size stored in a stream: Width bytes (1, 2, 4 or
// 8), little-endian, at offset At.
type Field struct {
	Name      string
	At, Width int
}

// forgedValues returns what a forged count holding v is set to: zero,
// one more, twice as many plus one, and the limits of 31, 32 and 63 bits
// and of the field, as far as the field holds them.
func forgedValues(v uint64, width int) []uint64 {
	top := uint64(math.MaxUint64) >> (64 - 8*width)
	var out []uint64
	for _, f := range []uint64{0, v + 1, 2*v + 1, 1<<31 - 1, 1<<32 - 1, 1 << 32, 1<<63 - 1, top} {
		if f != v && f <= top && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// Counts forges each field of data in turn to each of forgedValues,
// recomputes the checksums with seal (Resum when nil) so that only the
// count lies, and requires read to refuse every forged stream with an
// error wrapping one of targets, within b. It returns the number of
// streams tried.
func Counts(t testing.TB, read Reader, data []byte, fields []Field, seal func([]byte), b Budget, targets ...error) int {
	t.Helper()
	if seal == nil {
		seal = Resum
	}
	tried := 0
	for _, f := range fields {
		v := uint64(0)
		for i := range f.Width {
			v |= uint64(data[f.At+i]) << (8 * i)
		}
		for _, forged := range forgedValues(v, f.Width) {
			bad := bytes.Clone(data)
			for i := range f.Width {
				bad[f.At+i] = byte(forged >> (8 * i))
			}
			seal(bad)
			Check(t, fmt.Sprintf("%s forged from %d to %d", f.Name, v, forged), Run(read, bad), b, true, targets...)
			tried++
		}
	}
	return tried
}

// Resum rewrites the trailing CRC-32C of a stream in the internal/binfmt
// framing (or of a nested one, given its bytes) after a forgery.
func Resum(b []byte) {
	body := len(b) - 4
	binary.LittleEndian.PutUint32(b[body:], crc32.Checksum(b[:body], crc32.MakeTable(crc32.Castagnoli)))
}

// ExportedAPI returns the exported functions of the package in dir and
// the exported methods of its exported types, as "Func" and
// "Type.Method", sorted, from its non-test source files (every build
// variant: a name defined under several build tags is listed once). An
// API test compares it with the names it has cases for, so a new
// exported function or method without a hostile-argument case fails it.
func ExportedAPI(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || !fn.Name.IsExported() {
				continue
			}
			name := fn.Name.Name
			if fn.Recv != nil {
				typ := receiverType(fn.Recv.List[0].Type)
				if !ast.IsExported(typ) {
					continue
				}
				name = typ + "." + name
			}
			seen[name] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// receiverType returns the type name of a method receiver (T, *T, T[P]).
func receiverType(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return receiverType(e.X)
	case *ast.IndexExpr:
		return receiverType(e.X)
	case *ast.IndexListExpr:
		return receiverType(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// Cases is a hostile-argument suite: for each exported function or
// method (named as ExportedAPI names it), a test that calls it with the
// hostile arguments of its kind. A nil case marks a function with no
// argument a caller could make hostile, the reason given in a comment
// beside it.
type Cases map[string]func(t *testing.T)

// Run checks that cases covers exactly the exported API of the package in
// dir, failing on a function without a case and on a case for a function
// that no longer exists, then runs every case as a subtest. It returns
// the number of cases run.
func (c Cases) Run(t *testing.T, dir string) int {
	t.Helper()
	api := ExportedAPI(t, dir)
	for _, name := range api {
		if _, ok := c[name]; !ok {
			t.Errorf("exported %s has no hostile-argument case", name)
		}
	}
	for name := range c {
		if !slices.Contains(api, name) {
			t.Errorf("hostile-argument case for %s, which is not exported", name)
		}
	}
	ran := 0
	for _, name := range slices.Sorted(maps.Keys(c)) {
		if f := c[name]; f != nil {
			t.Run(name, f)
			ran++
		}
	}
	return ran
}

// Offsets returns the offsets below n to attack: all of them when n ≤
// most, else the first and last 64 and most more spread evenly between.
func Offsets(n, most int) []int {
	if n <= max(most, 128) {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for i := range min(64, n) {
		out = append(out, i)
	}
	for i := range most {
		out = append(out, 64+int(int64(i)*int64(n-128)/int64(most)))
	}
	for i := max(64, n-64); i < n; i++ {
		out = append(out, i)
	}
	return out
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
