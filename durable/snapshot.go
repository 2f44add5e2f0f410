package durable

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nearkit/nearkit"
)

// Snapshot formats, all little-endian.
//
// Version 2 (written since issue 13) is two files per snapshot:
//
//	snap-<LSN>.data      the State's WriteTo output and nothing else
//	snap-<LSN>.manifest  [8]byte "NKMANIF\0", u32 version (2), u64 LSN,
//	                     u64 data file size, u32 CRC-32C of the data file,
//	                     u16 n, n bytes: the data file's name,
//	                     u32 CRC-32C of the bytes before it
//
// (LSN as 16 hex digits in both names). LSN is the last record the
// snapshot covers. For an Index the data file is byte for byte what the
// index's own Save writes, so hnsw.Open, ivf.Open or flat.Load open it in
// place (Store.Snapshot names it). The data file is written first and the
// manifest after it, each with nearkit.SaveFile (fsynced, renamed,
// directory fsynced): a manifest exists only once its data file is
// durable, so a data file without a manifest is what a crash during a
// checkpoint leaves, ignored and removed by Open. The manifest's CRC-32C
// covers the whole data file even where the index format has checksums of
// its own, because the State is arbitrary (a collection's snapshot is not
// an index file) and recovery reads every byte while restoring anyway, so
// the check costs nothing extra.
//
// Version 1 (read only) is one file, snap-<LSN>.nks:
//
//	[8]byte "NKSNAP\0\0", u32 version (1), u64 LSN, u64 payload length n,
//	u32 CRC-32C of the 28 bytes before it,
//	n bytes: the State's WriteTo output,
//	u32 CRC-32C of the payload.
//
// A directory written before version 2 opens as it did; its next
// checkpoint writes version 2 (even with nothing new logged, so that
// Snapshot has a file to offer) and the version-1 file is removed like any
// older snapshot.
const (
	manifestMagic   = "NKMANIF\x00"
	manifestVersion = 2
	// manifestMaxName bounds the data file name a manifest may hold, and
	// so the manifest's size, before the file is read.
	manifestMaxName = 255
	manifestMax     = 8 + 4 + 8 + 8 + 4 + 2 + manifestMaxName + 4

	snapV1Magic      = "NKSNAP\x00\x00"
	snapV1Version    = 1
	snapV1HeaderSize = 32
)

func dataName(lsn uint64) string     { return fmt.Sprintf("snap-%016x.data", lsn) }
func manifestName(lsn uint64) string { return fmt.Sprintf("snap-%016x.manifest", lsn) }
func snapV1Name(lsn uint64) string   { return fmt.Sprintf("snap-%016x.nks", lsn) }

// manifest is a version-2 snapshot's manifest.
type manifest struct {
	lsn  uint64
	size int64  // of the data file
	crc  uint32 // of the data file
	data string // the data file's name
}

func (m manifest) WriteTo(w io.Writer) (int64, error) {
	b := make([]byte, 0, manifestMax)
	b = append(b, manifestMagic...)
	b = binary.LittleEndian.AppendUint32(b, manifestVersion)
	b = binary.LittleEndian.AppendUint64(b, m.lsn)
	b = binary.LittleEndian.AppendUint64(b, uint64(m.size))
	b = binary.LittleEndian.AppendUint32(b, m.crc)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.data)))
	b = append(b, m.data...)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	n, err := w.Write(b)
	return int64(n), err
}

// readManifest decodes the manifest of the snapshot at lsn. Damage of any
// kind is an error wrapping nearkit.ErrCorrupt, a manifest of a newer
// version one wrapping nearkit.ErrIncompatible. It reads at most
// manifestMax+1 bytes, whatever r holds.
func readManifest(r io.Reader, lsn uint64) (manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, manifestMax+1))
	if err != nil {
		return manifest{}, err
	}
	corrupt := func(f string, args ...any) (manifest, error) {
		return manifest{}, fmt.Errorf("%w: manifest: "+f, append([]any{nearkit.ErrCorrupt}, args...)...)
	}
	const fixed = 8 + 4 + 8 + 8 + 4 + 2
	if len(b) < fixed+4 || len(b) > manifestMax {
		return corrupt("%d bytes", len(b))
	}
	if string(b[:8]) != manifestMagic {
		return corrupt("bad magic")
	}
	body := len(b) - 4
	if binary.LittleEndian.Uint32(b[body:]) != crc32.Checksum(b[:body], castagnoli) {
		return corrupt("checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != manifestVersion {
		return manifest{}, fmt.Errorf("%w: manifest version %d, want %d", nearkit.ErrIncompatible, v, manifestVersion)
	}
	m := manifest{
		lsn:  binary.LittleEndian.Uint64(b[12:]),
		crc:  binary.LittleEndian.Uint32(b[28:]),
		data: string(b[fixed:body]),
	}
	size := binary.LittleEndian.Uint64(b[20:])
	if n := binary.LittleEndian.Uint16(b[32:]); int(n) != body-fixed {
		return corrupt("name of %d bytes in %d", n, body-fixed)
	}
	if m.lsn != lsn {
		return corrupt("says LSN %d, its name %d", m.lsn, lsn)
	}
	// The name is checked, not trusted: a manifest names only the data
	// file of its own LSN, never a path elsewhere.
	if m.data != dataName(lsn) {
		return corrupt("names data file %q, want %q", m.data, dataName(lsn))
	}
	if size > 1<<62 {
		return corrupt("data size %d", size)
	}
	m.size = int64(size)
	return m, nil
}

// dataFile is the io.WriterTo nearkit.SaveFile writes as a version-2 data
// file: the snapshot taken in memory, as it is. It checks ctx between
// chunks and leaves the size and CRC-32C of what it wrote for the
// manifest.
type dataFile struct {
	ctx   context.Context
	parts []*chunks // the snapshot, in order
	size  int64
	crc   uint32
}

func (f *dataFile) WriteTo(w io.Writer) (int64, error) {
	f.size, f.crc = 0, 0
	for _, p := range f.parts {
		err := p.each(func(c []byte) error {
			if err := f.ctx.Err(); err != nil {
				return err
			}
			f.crc = crc32.Update(f.crc, castagnoli, c)
			n, err := w.Write(c)
			f.size += int64(n)
			return err
		})
		if err != nil {
			return f.size, err
		}
	}
	return f.size, nil
}

// snapKind tells the two formats apart in a listing.
type snapKind uint8

const (
	snapV1 snapKind = iota + 1
	snapV2
)

// snapRef is one snapshot found in the directory.
type snapRef struct {
	lsn  uint64
	kind snapKind
}

// name is the file recovery reports and Snapshot offers: the data file of
// a version-2 snapshot, the only file of a version-1 one.
func (r snapRef) name() string {
	if r.kind == snapV2 {
		return dataName(r.lsn)
	}
	return snapV1Name(r.lsn)
}

// snapFiles is what a directory listing says about snapshots: the
// snapshots (a version-1 file or a version-2 manifest), newest first and,
// at one LSN, version 2 before version 1; and the LSNs of the data files.
type snapFiles struct {
	snaps []snapRef
	data  []uint64
}

// add adds name to l if it is a snapshot's file and reports
// whether it is.
func (l *snapFiles) add(name string) bool {
	var n uint64
	switch {
	case parseName(name, "snap-%016x.manifest", &n) && name == manifestName(n):
		l.snaps = append(l.snaps, snapRef{n, snapV2})
	case parseName(name, "snap-%016x.nks", &n) && name == snapV1Name(n):
		l.snaps = append(l.snaps, snapRef{n, snapV1})
	case parseName(name, "snap-%016x.data", &n) && name == dataName(n):
		l.data = append(l.data, n)
	default:
		return false
	}
	return true
}

func (l *snapFiles) sort() {
	slices.SortFunc(l.snaps, func(a, b snapRef) int {
		if c := compareU64(b.lsn, a.lsn); c != 0 {
			return c
		}
		return int(b.kind) - int(a.kind)
	})
}

// listSnapshots lists the directory's snapshot files.
func listSnapshots(dir string) snapFiles {
	entries, _ := os.ReadDir(dir)
	var l snapFiles
	for _, e := range entries {
		l.add(e.Name())
	}
	l.sort()
	return l
}

// loadSnapshot verifies and restores one snapshot.
func (s *Store) loadSnapshot(ref snapRef) error {
	if ref.kind == snapV1 {
		return s.loadV1(ref.lsn)
	}
	mf, err := os.Open(filepath.Join(s.dir, manifestName(ref.lsn)))
	if err != nil {
		return err
	}
	m, err := readManifest(mf, ref.lsn)
	mf.Close()
	if err != nil {
		return err
	}
	f, err := os.Open(filepath.Join(s.dir, m.data))
	if errors.Is(err, fs.ErrNotExist) {
		// The manifest is written only after its data file is durable:
		// this is damage (or a hand-made deletion), not a crash.
		return fmt.Errorf("%w: manifest names %s, which is missing", nearkit.ErrCorrupt, m.data)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if info.Size() != m.size {
		return fmt.Errorf("%w: %s holds %d bytes, its manifest says %d", nearkit.ErrCorrupt, m.data, info.Size(), m.size)
	}
	return s.restoreChecked(bufio.NewReaderSize(f, 1<<20), m.size, m.crc, m.data)
}

// restoreChecked restores the state from the n bytes of r whose CRC-32C
// must be crc. The checksum, over every byte whether or not Restore read
// it, decides whether a failed Restore met damage: with a mismatch the
// error wraps nearkit.ErrCorrupt, with a match it is Restore's own.
func (s *Store) restoreChecked(r io.Reader, n int64, crc uint32, what string) error {
	cr := &crcReader{r: io.LimitReader(r, n)}
	rerr := s.state.Restore(cr)
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return err
	}
	if cr.n != n {
		return fmt.Errorf("%w: %s ends after %d of %d bytes", nearkit.ErrCorrupt, what, cr.n, n)
	}
	if cr.crc != crc {
		return fmt.Errorf("%w: %s checksum mismatch", nearkit.ErrCorrupt, what)
	}
	return rerr
}

// loadV1 verifies and restores a version-1 snapshot file.
func (s *Store) loadV1(lsn uint64) error {
	name := snapV1Name(lsn)
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var h [snapV1HeaderSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return fmt.Errorf("%w: snapshot header: %v", nearkit.ErrCorrupt, err)
	}
	if string(h[:8]) != snapV1Magic {
		return fmt.Errorf("%w: not a snapshot", nearkit.ErrIncompatible)
	}
	if binary.LittleEndian.Uint32(h[28:]) != crc32.Checksum(h[:28], castagnoli) {
		return fmt.Errorf("%w: snapshot header checksum", nearkit.ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != snapV1Version {
		return fmt.Errorf("%w: snapshot version %d, want %d", nearkit.ErrIncompatible, v, snapV1Version)
	}
	if got := binary.LittleEndian.Uint64(h[12:]); got != lsn {
		return fmt.Errorf("%w: snapshot says LSN %d, its name %d", nearkit.ErrCorrupt, got, lsn)
	}
	n := binary.LittleEndian.Uint64(h[20:])
	if info.Size() < snapV1HeaderSize+4 || n != uint64(info.Size())-snapV1HeaderSize-4 {
		return fmt.Errorf("%w: snapshot holds %d payload bytes, the file %d", nearkit.ErrCorrupt, n, info.Size())
	}
	// The payload's checksum follows it: read it from the file's end.
	var t [4]byte
	if _, err := f.ReadAt(t[:], info.Size()-4); err != nil {
		return fmt.Errorf("%w: snapshot checksum: %v", nearkit.ErrCorrupt, err)
	}
	return s.restoreChecked(br, int64(n), binary.LittleEndian.Uint32(t[:]), "snapshot payload")
}

type crcReader struct {
	r   io.Reader
	crc uint32
	n   int64
}

func (c *crcReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.crc = crc32.Update(c.crc, castagnoli, p[:n])
	c.n += int64(n)
	return n, err
}

// setAside renames a damaged snapshot's files to *.damaged, so the next
// Open does not try it again and the files stay for inspection.
func (s *Store) setAside(ref snapRef) {
	names := []string{snapV1Name(ref.lsn)}
	if ref.kind == snapV2 {
		names = []string{manifestName(ref.lsn), dataName(ref.lsn)}
	}
	for _, name := range names {
		os.Rename(filepath.Join(s.dir, name), filepath.Join(s.dir, name+".damaged"))
	}
}

// removeSnapshot deletes the files of every snapshot at lsn, the manifest
// before its data file: a crash in between leaves a data file without a
// manifest, which Open removes, never a manifest without its data.
func removeSnapshot(dir string, lsn uint64) {
	for _, name := range []string{manifestName(lsn), dataName(lsn), snapV1Name(lsn)} {
		os.Remove(filepath.Join(dir, name))
	}
}

// isSnapTemp reports whether name is a temporary file a checkpoint killed
// before its rename left (see nearkit.SaveFile).
func isSnapTemp(name string) bool {
	return strings.HasPrefix(name, ".snap-") && strings.Contains(name, ".tmp-")
}
