package nearkit_test

import (
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/internal/attack"
)

// TestAPIHostile: every exported function and method of the package,
// called with the hostile arguments of its kind, returns the documented
// error or a correct answer within an allocation bound, never a panic. A
// new exported function without a case here fails the test.
func TestAPIHostile(t *testing.T) {
	before := attack.Calls
	// IDs at the edges of uint64, in the dense range and far beyond it.
	edge := []uint64{0, 1, 63, 64, 1<<23 - 1, 1 << 23, 1 << 40, math.MaxUint64 - 1, math.MaxUint64}
	full := func() *nearkit.AllowList {
		a := nearkit.NewAllowList(math.MaxUint64)
		for _, id := range edge {
			a.Set(id)
		}
		return a
	}
	cases := attack.Cases{
		"NewAllowList": func(t *testing.T) {
			for _, n := range []uint64{0, 1, 1 << 40, math.MaxUint64} {
				attack.Bounded(t, "NewAllowList", func() {
					if a := nearkit.NewAllowList(n); a.Count() != 0 {
						t.Errorf("NewAllowList(%d) holds %d", n, a.Count())
					}
				})
			}
		},
		"AllowList.Set": func(t *testing.T) {
			attack.Bounded(t, "Set of edge IDs", func() {
				if a := full(); a.Count() != len(edge) {
					t.Errorf("Count %d after %d Sets", a.Count(), len(edge))
				}
			})
			a := full()
			a.Set(math.MaxUint64) // twice
			attack.Calls++
			if a.Count() != len(edge) {
				t.Errorf("Count %d after setting an ID twice", a.Count())
			}
		},
		"AllowList.Allowed": func(t *testing.T) {
			a := full()
			for _, id := range edge {
				attack.Calls += 2
				if !a.Allowed(id) || nearkit.NewAllowList(0).Allowed(id) {
					t.Errorf("Allowed(%d) wrong", id)
				}
			}
			if a.Allowed(2) || a.Allowed(1<<41) {
				t.Error("Allowed of an ID never set")
			}
		},
		"AllowList.Clear": func(t *testing.T) {
			a := full()
			for _, id := range append(edge, 2, 1<<50) { // the last two were never set
				attack.Bounded(t, "Clear", func() { a.Clear(id) })
			}
			if a.Count() != 0 {
				t.Errorf("Count %d after clearing every ID", a.Count())
			}
		},
		"AllowList.Count": func(t *testing.T) {
			attack.Calls++
			if nearkit.NewAllowList(math.MaxUint64).Count() != 0 || full().Count() != len(edge) {
				t.Error("Count wrong")
			}
		},
		"AllowList.All": func(t *testing.T) {
			attack.Calls += 2
			var got []uint64
			for id := range full().All {
				got = append(got, id)
			}
			if len(got) != len(edge) {
				t.Errorf("All yields %v", got)
			}
			for range full().All {
				break // stopping early must not panic
			}
		},
		"FilterFunc.Allowed": func(t *testing.T) {
			attack.Calls++
			if !nearkit.FilterFunc(func(id uint64) bool { return id == math.MaxUint64 }).Allowed(math.MaxUint64) {
				t.Error("FilterFunc.Allowed")
			}
		},
		"CompareResults": func(t *testing.T) {
			nan := float32(math.NaN())
			rs := []nearkit.Result{{ID: 1, Distance: nan}, {ID: 2, Distance: float32(math.Inf(-1))}, {ID: 3, Distance: float32(math.Inf(1))}, {ID: 4, Distance: 0}}
			for i, a := range rs {
				for j, b := range rs {
					attack.Calls++
					if c, d := nearkit.CompareResults(a, b), nearkit.CompareResults(b, a); c != -d || (c == 0) != (i == j) {
						t.Errorf("CompareResults(%v, %v) = %d, reversed %d: not a total order", a, b, c, d)
					}
				}
			}
		},
		// NaN distances sort last, so the order is total.
		"SortResults": func(t *testing.T) {
			attack.Bounded(t, "SortResults of nil", func() { nearkit.SortResults(nil) })
			rs := []nearkit.Result{{ID: 1, Distance: float32(math.NaN())}, {ID: 2, Distance: 1}, {ID: 3, Distance: float32(math.Inf(-1))}}
			attack.Bounded(t, "SortResults with NaN", func() { nearkit.SortResults(rs) })
			if rs[0].ID != 3 || rs[1].ID != 2 || rs[2].ID != 1 {
				t.Errorf("SortResults with NaN and -Inf: %v", rs)
			}
		},
		"SaveFile": func(t *testing.T) {
			dir := t.TempDir()
			attack.Must(t, "SaveFile into a missing directory", nearkit.SaveFile(filepath.Join(dir, "no", "x"), writer("x")), os.ErrNotExist)
			attack.Calls += 3
			if err := nearkit.SaveFile(dir, writer("x")); err == nil {
				t.Error("SaveFile over a directory: no error")
			}
			if err := nearkit.SaveFile("", writer("x")); err == nil {
				t.Error("SaveFile to an empty path: no error")
			}
			// A writer that fails leaves no file and no temporary behind.
			p := filepath.Join(dir, "f")
			if err := nearkit.SaveFile(p, failing{}); !errors.Is(err, errFailing) {
				t.Errorf("SaveFile with a failing writer: %v", err)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("a failed SaveFile left %v", ents)
			}
		},
		"CleanTemp": func(t *testing.T) {
			dir := t.TempDir()
			attack.Must(t, "CleanTemp of a path never saved", nearkit.CleanTemp(filepath.Join(dir, "x")), nil)
			attack.Calls++
			if err := nearkit.CleanTemp(filepath.Join(dir, "no", "such", "dir", "x")); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("CleanTemp in a missing directory: %v", err)
			}
		},
	}
	cases.Run(t, ".")
	t.Logf("%d hostile calls", attack.Calls-before)
}

type writer string

func (w writer) WriteTo(out io.Writer) (int64, error) {
	n, err := io.WriteString(out, string(w))
	return int64(n), err
}

var errFailing = errors.New("write refused")

type failing struct{}

func (failing) WriteTo(io.Writer) (int64, error) { return 0, errFailing }
