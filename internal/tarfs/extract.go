package tarfs

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

var (
	// ErrUnsafe is returned by Extract for an entry that would leave its
	// directory (an absolute name, "..", a path through a symlink of the
	// archive, a hardlink to anything but an earlier file of the
	// archive), a device or FIFO, or a header or name over the limits.
	ErrUnsafe = errors.New("tarfs: unsafe archive entry")
	// ErrBadArchive is returned by Extract for a stream that is not a
	// well-formed tar (or tar.gz) or holds an entry it cannot create.
	ErrBadArchive = errors.New("tarfs: bad archive")
)

// MaxNameLen bounds entry names and link targets (bytes).
const MaxNameLen = 4096

// ExtractOptions configures Extract. A nil *ExtractOptions is all
// defaults.
type ExtractOptions struct {
	// Chown, when set, is called for every created entry, named by a
	// path inside the given root (the Extract root or a Root on one of
	// its directories): the server gives them to the sandbox uid.
	Chown func(root *os.Root, name string) error
	// Overwrite lets entries replace existing files and symlinks (never
	// written through: they are removed first) in a directory that was
	// not empty; without it an existing name is an error.
	Overwrite bool
	// OnData, when set, is called with the size of each regular file
	// written.
	OnData func(n int64)
}

// Stats counts what Extract created.
type Stats struct {
	Files, Dirs, Links int
	Bytes              int64
}

// kinds of names created by the archive.
const (
	kindDir  = 'd'
	kindFile = 'f'
	kindLink = 'l'
)

type dirMeta struct {
	name  string
	mode  fs.FileMode
	mtime time.Time
}

// Extract unpacks the tar (or tar.gz, detected by its magic bytes) read
// from r into dir, an existing directory inside root. Entries are
// refused, with an error matching ErrUnsafe, when they would leave dir:
// absolute names, ".." components, a path through a symlink (or file) the
// archive created, a hardlink to anything but an earlier regular file of
// the archive; devices and FIFOs are refused the same way. Symlinks are
// created as they are (their targets are not followed by Extract). On
// error, what was created so far stays: extract into an empty staging
// directory and remove it on error for all-or-nothing.
func Extract(root *os.Root, dir string, r io.Reader, o *ExtractOptions) (Stats, error) {
	if o == nil {
		o = &ExtractOptions{}
	}
	var st Stats
	br := bufio.NewReaderSize(r, 64<<10)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return st, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		defer gz.Close()
		src = gz
	}
	x := &extractor{root: root, dir: dir, o: o, seen: map[string]byte{}, st: &st}
	defer x.closeParent()
	tr := tar.NewReader(src)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, tar.ErrFieldTooLong) {
				return st, fmt.Errorf("%w: header too large: %v", ErrUnsafe, err)
			}
			return st, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		if err := x.entry(h, tr); err != nil {
			return st, err
		}
	}
	// Directory modes and times last: their files are in by now.
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if err := root.Chmod(d.name, d.mode); err != nil {
			return st, err
		}
		if !d.mtime.IsZero() {
			if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

type extractor struct {
	root *os.Root
	dir  string
	o    *ExtractOptions
	seen map[string]byte // cleaned entry name -> kind created
	dirs []dirMeta
	st   *Stats

	sub    *os.Root // the directory of the last file (parent)
	subDir string
}

// CleanName returns the cleaned relative form of a tar entry name ("" for
// the top directory itself), or an error matching ErrUnsafe for names
// that are absolute, leave the top directory, hold a NUL byte or are too
// long.
func CleanName(name string) (string, error) {
	if len(name) > MaxNameLen {
		return "", fmt.Errorf("%w: name of %d bytes", ErrUnsafe, len(name))
	}
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: bad name %q", ErrUnsafe, name)
	}
	if path.IsAbs(name) || filepath.IsAbs(name) || filepath.VolumeName(name) != "" {
		return "", fmt.Errorf("%w: absolute name %q", ErrUnsafe, name)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q leaves the directory", ErrUnsafe, name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: %q has a \"..\" component", ErrUnsafe, name)
		}
	}
	if c == "." {
		return "", nil
	}
	return c, nil
}

func (x *extractor) entry(h *tar.Header, body io.Reader) error {
	switch h.Typeflag {
	case tar.TypeXGlobalHeader:
		return nil
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("%w: %q is a device or FIFO", ErrUnsafe, h.Name)
	case tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink:
	default:
		if h.Typeflag != '\x00' { // old-style regular file
			return fmt.Errorf("%w: %q has unsupported type %q", ErrBadArchive, h.Name, h.Typeflag)
		}
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			// Holes would turn a few bytes of archive into any
			// amount of disk.
			return fmt.Errorf("%w: %q is a sparse file", ErrBadArchive, h.Name)
		}
	}
	name, err := CleanName(h.Name)
	if err != nil {
		return err
	}
	if len(h.Linkname) > MaxNameLen || strings.IndexByte(h.Linkname, 0) >= 0 {
		return fmt.Errorf("%w: bad link target of %q", ErrUnsafe, h.Name)
	}
	if name == "" {
		if h.Typeflag == tar.TypeDir {
			return nil // the top directory itself
		}
		return fmt.Errorf("%w: %q names the top directory", ErrBadArchive, h.Name)
	}
	if err := x.parents(name); err != nil {
		return err
	}
	full := path.Join(x.dir, name)
	isDir := h.Typeflag == tar.TypeDir
	if prior, ok := x.seen[name]; ok {
		if prior == kindDir && isDir {
			x.dirs = append(x.dirs, dirMeta{full, fs.FileMode(h.Mode).Perm(), h.ModTime})
			return nil
		}
		if err := x.root.Remove(full); err != nil {
			return fmt.Errorf("%w: %q replaces an earlier entry: %v", ErrBadArchive, h.Name, err)
		}
		delete(x.seen, name)
	} else if !isDir && (!x.o.Overwrite || h.Typeflag == tar.TypeReg || h.Typeflag == '\x00') {
		// O_EXCL finds an existing file (file replaces it when
		// Overwrite), EEXIST an existing link.
	} else if fi, err := x.root.Lstat(full); err == nil {
		switch {
		case fi.IsDir() && isDir:
			x.seen[name] = kindDir
			return nil
		case !x.o.Overwrite || fi.IsDir():
			return fmt.Errorf("%w: %q exists", ErrBadArchive, h.Name)
		}
		if err := x.root.Remove(full); err != nil {
			return err
		}
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if err := x.root.Mkdir(full, 0o700); err != nil {
			return err
		}
		x.seen[name] = kindDir
		x.st.Dirs++
		x.dirs = append(x.dirs, dirMeta{full, fs.FileMode(h.Mode).Perm(), h.ModTime})
		return x.chown(full)
	case tar.TypeSymlink:
		if h.Linkname == "" {
			return fmt.Errorf("%w: symlink %q without a target", ErrBadArchive, h.Name)
		}
		if err := x.root.Symlink(h.Linkname, full); err != nil {
			return err
		}
		x.seen[name] = kindLink
		x.st.Links++
		return x.chown(full)
	case tar.TypeLink:
		target, err := CleanName(h.Linkname)
		if err != nil {
			return err
		}
		if target == "" || x.seen[target] != kindFile {
			return fmt.Errorf("%w: hardlink %q to %q, not an earlier file of the archive", ErrUnsafe, h.Name, h.Linkname)
		}
		if err := x.root.Link(path.Join(x.dir, target), full); err != nil {
			return err
		}
		x.seen[name] = kindFile
		x.st.Files++
		return nil
	default:
		return x.file(h, full, name, body)
	}
}

// parents checks that no parent of name is something other than a
// directory the archive created, and creates the missing ones.
func (x *extractor) parents(name string) error {
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		p := name[:i]
		switch x.seen[p] {
		case kindDir:
			continue
		case kindFile, kindLink:
			return fmt.Errorf("%w: %q goes through %q, not a directory", ErrUnsafe, name, p)
		}
		full := path.Join(x.dir, p)
		err := x.root.Mkdir(full, 0o755)
		switch {
		case err == nil:
			x.st.Dirs++
			if err := x.chown(full); err != nil {
				return err
			}
		case errors.Is(err, fs.ErrExist):
			fi, lerr := x.root.Lstat(full)
			if lerr != nil {
				return lerr
			}
			if !fi.IsDir() {
				return fmt.Errorf("%w: %q goes through %q, not a directory", ErrUnsafe, name, p)
			}
		default:
			return err
		}
		x.seen[p] = kindDir
	}
	return nil
}

func (x *extractor) file(h *tar.Header, full, name string, body io.Reader) error {
	dir, base, err := x.parent(full)
	if err != nil {
		return err
	}
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := dir.OpenFile(base, flags, 0o600)
	if err != nil && x.o.Overwrite && errors.Is(err, fs.ErrExist) {
		// Replace a file or symlink, never write through it.
		if fi, lerr := dir.Lstat(base); lerr == nil && !fi.IsDir() {
			if err := dir.Remove(base); err != nil {
				return err
			}
			f, err = dir.OpenFile(base, flags, 0o600)
		}
	}
	if err != nil {
		return err
	}
	n, err := io.Copy(f, body)
	if err == nil {
		err = f.Chmod(fs.FileMode(h.Mode).Perm())
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		return err
	}
	x.seen[name] = kindFile
	x.st.Files++
	x.st.Bytes += n
	if x.o.OnData != nil {
		x.o.OnData(n)
	}
	if !h.ModTime.IsZero() {
		if err := dir.Chtimes(base, h.ModTime, h.ModTime); err != nil {
			return err
		}
	}
	if x.o.Chown == nil {
		return nil
	}
	return x.o.Chown(dir, base)
}

// parent returns an os.Root on the directory of full (a path in x.root)
// and full's last element. The last one is kept open: entries come
// grouped by directory, and one-element names spare os.Root a walk of
// every component per call. The parents of full were checked to be
// directories (parents), and a Root on a directory stays confined to it.
func (x *extractor) parent(full string) (*os.Root, string, error) {
	dir, base := path.Split(full)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	if x.sub != nil && x.subDir == dir {
		return x.sub, base, nil
	}
	x.closeParent()
	sub, err := x.root.OpenRoot(dir)
	if err != nil {
		return nil, "", err
	}
	x.sub, x.subDir = sub, dir
	return sub, base, nil
}

func (x *extractor) closeParent() {
	if x.sub != nil {
		x.sub.Close()
		x.sub, x.subDir = nil, ""
	}
}

func (x *extractor) chown(full string) error {
	if x.o.Chown == nil {
		return nil
	}
	return x.o.Chown(x.root, full)
}
