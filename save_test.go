//go:build unix

package nearkit

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type bytesTo []byte

func (b bytesTo) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b)
	return int64(n), err
}

type failingWriter struct{}

func (failingWriter) WriteTo(w io.Writer) (int64, error) {
	w.Write(make([]byte, 100))
	return 100, errors.New("boom")
}

// slowWriter writes forever, so a child process can be killed mid-save.
type slowWriter struct{}

func (slowWriter) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, 1<<20)
	for {
		if _, err := w.Write(buf); err != nil {
			return 0, err
		}
		time.Sleep(time.Millisecond)
	}
}

func temps(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if strings.Contains(e.Name(), ".tmp-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestSaveFileModeAndLinks(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	fresh := filepath.Join(dir, "fresh")
	if err := SaveFile(fresh, bytesTo("a")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(fresh); st.Mode().Perm() != 0o644 {
		t.Fatalf("new file mode %v, want 0644 (0666 less umask 022)", st.Mode().Perm())
	}

	kept := filepath.Join(dir, "kept")
	os.WriteFile(kept, []byte("old"), 0o600)
	os.Chmod(kept, 0o640)
	if err := SaveFile(kept, bytesTo("new")); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(kept); st.Mode().Perm() != 0o640 {
		t.Fatalf("replaced file mode %v, want the old 0640", st.Mode().Perm())
	}

	// A link (relative, through a second link) keeps being a link, and
	// its target gets the new bytes.
	os.Mkdir(filepath.Join(dir, "data"), 0o755)
	target := filepath.Join(dir, "data", "index")
	os.WriteFile(target, []byte("old"), 0o644)
	os.Symlink("data/index", filepath.Join(dir, "link1"))
	os.Symlink("link1", filepath.Join(dir, "link2"))
	if err := SaveFile(filepath.Join(dir, "link2"), bytesTo("new")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"link1", "link2"} {
		if st, err := os.Lstat(filepath.Join(dir, l)); err != nil || st.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a link: %v", l, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Fatalf("link target holds %q", b)
	}
	// A dangling link creates its target.
	os.Symlink("data/later", filepath.Join(dir, "dangling"))
	if err := SaveFile(filepath.Join(dir, "dangling"), bytesTo("x")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "data", "later")); string(b) != "x" {
		t.Fatal("dangling link's target not written")
	}
	os.Symlink("loop", filepath.Join(dir, "loop"))
	if err := SaveFile(filepath.Join(dir, "loop"), bytesTo("x")); err == nil {
		t.Fatal("a link loop saved")
	}

	if err := SaveFile(kept, failingWriter{}); err == nil {
		t.Fatal("failing writer saved")
	}
	if b, _ := os.ReadFile(kept); string(b) != "new" || len(temps(t, dir)) != 0 || len(temps(t, filepath.Join(dir, "data"))) != 0 {
		t.Fatalf("failed save changed the file or left %v", temps(t, dir))
	}
}

// TestSaveFileCleansCrashLeftovers kills child processes mid-save: the
// next save removes their temporary files and keeps ones a live process
// (this one) may be writing.
func TestSaveFileCleansCrashLeftovers(t *testing.T) {
	if p := os.Getenv("NEARKIT_SAVE_CHILD"); p != "" {
		SaveFile(p, slowWriter{})
		os.Exit(0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "idx")
	if err := SaveFile(path, bytesTo("v1")); err != nil {
		t.Fatal(err)
	}
	kills := 3
	if testing.Short() {
		kills = 1
	}
	for range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSaveFileCleansCrashLeftovers$")
		cmd.Env = append(os.Environ(), "NEARKIT_SAVE_CHILD="+path)
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				// Run under an emulator the host kernel cannot start itself.
				t.Skip("cannot re-execute the test binary here:", err)
			}
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(temps(t, dir)) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait()
	}
	// Each child's save removed the leftover of the one killed before it.
	left := temps(t, dir)
	if len(left) != 1 {
		t.Fatalf("after %d kills: %v, want the last one's only", kills, left)
	}
	mine := filepath.Join(dir, tempPrefix("idx")+strconv.Itoa(os.Getpid())+"-inflight")
	os.WriteFile(mine, nil, 0o600)
	other := filepath.Join(dir, tempPrefix("other")+"1-x")
	os.WriteFile(other, nil, 0o600)
	if b, _ := os.ReadFile(path); !bytes.Equal(b, []byte("v1")) {
		t.Fatalf("killed saves changed the file: %q", b[:min(len(b), 8)])
	}
	if err := SaveFile(path, bytesTo("v2")); err != nil {
		t.Fatal(err)
	}
	left = temps(t, dir)
	if len(left) != 2 || !strings.Contains(strings.Join(left, " "), "inflight") {
		t.Fatalf("after the next save: %v, want only this process's and another target's", left)
	}
	if err := CleanTemp(path); err != nil {
		t.Fatal(err)
	}
	if left = temps(t, dir); len(left) != 1 || !strings.Contains(left[0], "other") {
		t.Fatalf("after CleanTemp: %v", left)
	}
}
