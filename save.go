package nearkit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SaveFile writes w to path crash-safely: it writes to a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so path holds either the old contents or the complete new ones,
// never a torn write. It returns an error when any of these steps fails,
// including the directory fsync (except on file systems that do not
// support syncing a directory), since the rename may not survive a crash
// without it.
//
// File semantics, chosen on purpose:
//   - Mode: a file replacing an existing one keeps that file's permission
//     bits; a new file gets 0666 less the process umask, as os.Create
//     would. (Owner and extended attributes are not carried over.)
//   - Symbolic links: when path is a symbolic link, the file it resolves
//     to is replaced and the link kept, as SQLite and editors do, so every
//     name for the file sees the new contents.
//   - Leftovers: a process killed mid-save leaves its temporary file
//     (named ".NAME.tmp-PID-…"). Each SaveFile to the same path removes
//     the temporary files of that target whose process is no longer
//     running on this host; on systems where that cannot be known
//     (non-Unix) they are left, and CleanTemp removes them.
func SaveFile(path string, w io.WriterTo) (err error) {
	target, err := resolveLink(path)
	if err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	dir, base := filepath.Dir(target), filepath.Base(target)
	removeStaleTemp(dir, base, false)
	perm := fs.FileMode(0o666)
	if st, serr := os.Stat(target); serr == nil {
		perm = st.Mode().Perm()
	}
	f, tmp, err := createTemp(dir, base, perm)
	if err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if perm != 0o666 {
		// The umask may have narrowed the mode given to OpenFile; an
		// existing file's bits are restored exactly.
		if err = f.Chmod(perm); err != nil {
			return fmt.Errorf("nearkit: save %s: %w", path, err)
		}
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if _, err = w.WriteTo(bw); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("nearkit: save %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	if err = os.Rename(tmp, target); err != nil {
		return fmt.Errorf("nearkit: save %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is on disk.
	if serr := syncDir(dir); serr != nil {
		return fmt.Errorf("nearkit: save %s: fsync directory: %w", path, serr)
	}
	return nil
}

// CleanTemp removes every temporary file an interrupted SaveFile to path
// may have left, whether or not its process is still running: call it only
// when no save of path can be in progress (at start-up, say).
func CleanTemp(path string) error {
	target, err := resolveLink(path)
	if err != nil {
		return fmt.Errorf("nearkit: clean %s: %w", path, err)
	}
	return removeStaleTemp(filepath.Dir(target), filepath.Base(target), true)
}

// resolveLink follows path through symbolic links to the file they name
// (which need not exist yet); path itself when it is not a link.
func resolveLink(path string) (string, error) {
	for range 40 { // the usual kernel limit on link hops
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && st.Mode()&fs.ModeSymlink == 0) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", path)
}

// tempPrefix starts the name of every temporary file of a save to base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// createTemp creates a new temporary file for base in dir, named with the
// process ID so a later save can tell whether its writer is alive.
func createTemp(dir, base string, perm fs.FileMode) (*os.File, string, error) {
	for range 100 {
		name := filepath.Join(dir, tempPrefix(base)+strconv.Itoa(os.Getpid())+"-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("cannot create a temporary file in %s", dir)
}

// removeStaleTemp removes base's temporary files in dir whose writing
// process is gone (all of them when force is set). Files of this process
// and of processes that may be alive are kept: they may be saves in
// progress. Errors other than the directory's are ignored, since a file a
// concurrent cleaner removed first is not a failure.
func removeStaleTemp(dir, base string, force bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || e.IsDir() {
			continue
		}
		if !force {
			pidText, _, ok := strings.Cut(rest, "-")
			pid, err := strconv.Atoi(pidText)
			if !ok || err != nil || pid == os.Getpid() || !processGone(pid) {
				continue
			}
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return nil
}

// syncDir fsyncs directory dir. File systems and systems that cannot sync
// a directory (EINVAL, or no way to open one) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
