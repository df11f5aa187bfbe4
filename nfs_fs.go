package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/nfsclient"
)

// NFSFileSystem is a userspace NFSv3 session on one workspace export: no
// root and no kernel NFS client are needed. It implements fs.FS,
// fs.ReadDirFS, fs.StatFS and fs.ReadFileFS (names are slash-separated,
// unrooted, as fs.ValidPath requires; "." is the workspace root), and
// writes with the os signatures (WriteFile, MkdirAll, Remove, RemoveAll,
// Rename, Create, OpenFile).
//
// Errors are *fs.PathError whose Err reads like the os package's ("no such
// file or directory", "file exists", "permission denied", "directory not
// empty", "no space left on device") and matches fs.ErrNotExist,
// fs.ErrExist, fs.ErrPermission or fs.ErrInvalid and the syscall.Errno of
// the same name with errors.Is. After Close every call fails with an error
// matching fs.ErrClosed.
//
// Reads: the session keeps a bounded read cache (NFSOptions.CacheSize,
// 8 MiB by default) of 4 KiB blocks shared by every Read and ReadAt, and
// sequential reads keep up to four 1 MiB READs in flight. Consistency is
// close-to-open like the kernel client's: opening a file, or Stat, fetches
// fresh attributes and drops cached data of a file another writer
// changed; an open file's cached data is revalidated once it is older than
// NFSOptions.AttrTimeout (1 s). Writes: see NFSFile.
//
// Every call has a deadline (NFSOptions.CallTimeout, 30 s) and ends when
// the session is closed, so an unresponsive server never hangs a caller;
// a lost connection is redialled by the next call.
//
// An NFSFileSystem is safe for concurrent use by many goroutines (calls
// are multiplexed on one TCP connection); an *NFSFile is not, except
// ReadAt.
type NFSFileSystem struct {
	c      *nfsclient.Client
	export string
}

var (
	_ fs.FS         = (*NFSFileSystem)(nil)
	_ fs.ReadDirFS  = (*NFSFileSystem)(nil)
	_ fs.StatFS     = (*NFSFileSystem)(nil)
	_ fs.ReadFileFS = (*NFSFileSystem)(nil)
)

// NFSOptions tunes a session opened with OpenWithOptions; zero values
// take the defaults.
type NFSOptions struct {
	// CacheSize is the read cache's size in bytes (8 MiB when 0); a
	// negative value disables the cache.
	CacheSize int64
	// CallTimeout bounds each NFS call (30 s when 0).
	CallTimeout time.Duration
	// AttrTimeout is how long cached data is served without checking the
	// file's attributes with the server (1 s when 0).
	AttrTimeout time.Duration
}

// Open starts a userspace NFSv3 session on the workspace's export (the
// path of its nfs_url, at the host and port of the URL unless WithNFS
// overrides them), with the default NFSOptions. ctx bounds the setup only.
// The caller must Close the returned session.
//
// Errors: those of Workspace.Get (ErrWorkspaceNotFound, *Error, transport
// errors); an error matching ErrUnsupported when the server exports no
// NFS (nfs_url is null); a *net.OpError when the NFS port cannot be
// reached; an *fs.PathError with Op "mount" matching fs.ErrNotExist when
// the server refuses the export (unknown workspace, or an export path
// without its token); ctx.Err() when ctx ends first.
func (s *NFSService) Open(ctx context.Context, workspaceID string) (*NFSFileSystem, error) {
	return s.OpenWithOptions(ctx, workspaceID, NFSOptions{})
}

// OpenWithOptions is Open with options for the session (cache size and
// timeouts). Its errors are Open's.
func (s *NFSService) OpenWithOptions(ctx context.Context, workspaceID string, opts NFSOptions) (*NFSFileSystem, error) {
	ep, err := s.endpoint(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return openNFS(ctx, ep.addr(), ep.export, opts)
}

// openNFS dials addr (no portmapper), mounts export and reads FSINFO.
func openNFS(ctx context.Context, addr, export string, opts NFSOptions) (*NFSFileSystem, error) {
	c, err := nfsclient.Dial(ctx, addr, export, nfsclient.Options{
		CacheSize:   opts.CacheSize,
		CallTimeout: opts.CallTimeout,
		AttrTimeout: opts.AttrTimeout,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("workspace: %w", err)
	}
	return &NFSFileSystem{c: c, export: export}, nil
}

// Close ends the session; later calls fail with an error matching
// fs.ErrClosed. It is idempotent. Files still open are not committed:
// Close them first.
func (f *NFSFileSystem) Close() error { return f.c.Close() }

// nfsPathError wraps err as a *fs.PathError (unless it already is one).
func nfsPathError(op, name string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return err
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// nfsPathParts validates name and returns its components ("." has none).
func nfsPathParts(op, name string) ([]string, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return nil, nil
	}
	return strings.Split(name, "/"), nil
}

// walk validates name and looks it up from the export's root: its
// components, file handle and attributes. Errors are *fs.PathError of op.
func (f *NFSFileSystem) walk(op, name string) (parts []string, fh []byte, a *nfsclient.Attr, err error) {
	if parts, err = nfsPathParts(op, name); err != nil {
		return nil, nil, nil, err
	}
	if fh, a, err = f.c.Walk(parts); err != nil {
		return nil, nil, nil, nfsPathError(op, name, err)
	}
	return parts, fh, a, nil
}

// nfsFileInfo is an fs.FileInfo from NFS attributes.
type nfsFileInfo struct {
	name string
	attr nfsclient.Attr
}

func (i *nfsFileInfo) Name() string       { return i.name }
func (i *nfsFileInfo) Size() int64        { return int64(i.attr.Filesize) }
func (i *nfsFileInfo) ModTime() time.Time { return i.attr.ModTime() }
func (i *nfsFileInfo) IsDir() bool        { return i.attr.Type == nfsclient.TypeDir }
func (i *nfsFileInfo) Sys() any           { return &i.attr }
func (i *nfsFileInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.attr.FileMode & 0o777)
	switch i.attr.Type {
	case nfsclient.TypeDir:
		m |= fs.ModeDir
	case nfsclient.TypeLnk:
		m |= fs.ModeSymlink
	case nfsclient.TypeBlk:
		m |= fs.ModeDevice
	case nfsclient.TypeChr:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case nfsclient.TypeSock:
		m |= fs.ModeSocket
	case nfsclient.TypeFIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}

// Stat returns the attributes of name without following a final symlink.
func (f *NFSFileSystem) Stat(name string) (fs.FileInfo, error) {
	_, _, a, err := f.walk("stat", name)
	if err != nil {
		return nil, err
	}
	return &nfsFileInfo{name: path.Base(name), attr: *a}, nil
}

// Open opens name for reading: a file is an *NFSFile, a directory an
// fs.ReadDirFile.
func (f *NFSFileSystem) Open(name string) (fs.File, error) {
	parts, fh, a, err := f.walk("open", name)
	if err != nil {
		return nil, err
	}
	info := &nfsFileInfo{name: path.Base(name), attr: *a}
	if a.Type == nfsclient.TypeDir {
		return &nfsDir{fs: f, fh: fh, name: name, info: info}, nil
	}
	return newNFSFile(f, fh, parts, name, info, os.O_RDONLY), nil
}

// readDir lists a directory, sorted by name.
func (f *NFSFileSystem) readDir(fh []byte) ([]fs.DirEntry, error) {
	ents, err := f.c.ReadDir(fh)
	if err != nil {
		return nil, err
	}
	out := make([]fs.DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, fs.FileInfoToDirEntry(&nfsFileInfo{name: e.Name, attr: e.Attr}))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// ReadDir lists the directory name, sorted by file name.
func (f *NFSFileSystem) ReadDir(name string) ([]fs.DirEntry, error) {
	_, fh, a, err := f.walk("readdir", name)
	if err != nil {
		return nil, err
	}
	if a.Type != nfsclient.TypeDir {
		return nil, nfsPathError("readdir", name, syscall.ENOTDIR)
	}
	ents, err := f.readDir(fh)
	return ents, nfsPathError("readdir", name, err)
}

// ReadFile reads the whole file name with large, pipelined READs.
func (f *NFSFileSystem) ReadFile(name string) ([]byte, error) {
	parts, fh, a, err := f.walk("read", name)
	if err != nil {
		return nil, err
	}
	if a.Type == nfsclient.TypeDir {
		return nil, nfsPathError("read", name, syscall.EISDIR)
	}
	file := f.c.OpenFile(fh, parts, a)
	defer file.Close()
	buf := make([]byte, a.Filesize)
	n, err := file.ReadAt(buf, 0)
	buf = buf[:n]
	// The file may have grown since its attributes were read.
	for err == nil {
		more := make([]byte, f.c.RSize())
		n, err = file.ReadAt(more, int64(len(buf)))
		buf = append(buf, more[:n]...)
	}
	if err != io.EOF {
		return nil, nfsPathError("read", name, err)
	}
	return buf, nil
}

// parent splits name into its parent's handle and base name.
func (f *NFSFileSystem) parent(op, name string) ([]byte, string, error) {
	parts, err := nfsPathParts(op, name)
	if err != nil {
		return nil, "", err
	}
	if len(parts) == 0 {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	dir, a, err := f.c.Walk(parts[:len(parts)-1])
	if err == nil && a.Type != nfsclient.TypeDir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, "", nfsPathError(op, name, err)
	}
	return dir, parts[len(parts)-1], nil
}

// OpenFile opens name with os.OpenFile's flags (O_RDONLY, O_WRONLY,
// O_RDWR, O_APPEND, O_CREATE, O_EXCL, O_TRUNC) and perm for a new file.
// Directories cannot be opened for writing (EISDIR).
func (f *NFSFileSystem) OpenFile(name string, flag int, perm fs.FileMode) (*NFSFile, error) {
	dir, base, err := f.parent("open", name)
	if err != nil {
		return nil, err
	}
	parts, _ := nfsPathParts("open", name)
	fh, a, err := f.c.Lookup(dir, base)
	switch {
	case err == nil && flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EEXIST}
	case err == nil:
		if a.Type == nfsclient.TypeDir && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
		}
		if flag&os.O_TRUNC != 0 && flag&(os.O_WRONLY|os.O_RDWR) != 0 && a.Filesize > 0 && a.Type == nfsclient.TypeReg {
			// An UNCHECKED CREATE of an existing file truncates it and
			// keeps its mode (no attributes are sent).
			if fh, err = f.c.Create(dir, base, 0, false); err != nil {
				return nil, nfsPathError("open", name, err)
			}
			a.Filesize = 0
		}
	case errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0:
		fh, err = f.c.Create(dir, base, perm, flag&os.O_EXCL != 0)
		if err != nil {
			return nil, nfsPathError("open", name, err)
		}
		a = &nfsclient.Attr{Type: nfsclient.TypeReg, FileMode: uint32(perm.Perm())}
	default:
		return nil, nfsPathError("open", name, err)
	}
	if a.Type == nfsclient.TypeDir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EISDIR}
	}
	return newNFSFile(f, fh, parts, name, &nfsFileInfo{name: path.Base(name), attr: *a}, flag), nil
}

// Create creates or truncates name (mode 0666 before the server's umask),
// like os.Create, and opens it for reading and writing.
func (f *NFSFileSystem) Create(name string) (*NFSFile, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// WriteFile writes data to name, creating it with perm or truncating it;
// it returns once the data is on the server's disk (Close commits).
func (f *NFSFileSystem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	w, err := f.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mkdir creates the directory name; it fails with fs.ErrExist if it exists.
func (f *NFSFileSystem) Mkdir(name string, perm fs.FileMode) error {
	dir, base, err := f.parent("mkdir", name)
	if err != nil {
		return err
	}
	return nfsPathError("mkdir", name, f.c.Mkdir(dir, base, perm))
}

// MkdirAll creates the directory p and any missing parents, like
// os.MkdirAll; an existing directory is not an error, an existing file is.
func (f *NFSFileSystem) MkdirAll(p string, perm fs.FileMode) error {
	parts, err := nfsPathParts("mkdir", p)
	if err != nil {
		return err
	}
	fh := f.c.Root()
	for i, part := range parts {
		next, a, err := f.c.Lookup(fh, part)
		if errors.Is(err, fs.ErrNotExist) {
			err = f.c.Mkdir(fh, part, perm)
			if err == nil || errors.Is(err, fs.ErrExist) {
				next, a, err = f.c.Lookup(fh, part)
			}
		}
		if err != nil {
			return nfsPathError("mkdir", strings.Join(parts[:i+1], "/"), err)
		}
		if a.Type != nfsclient.TypeDir {
			return &fs.PathError{Op: "mkdir", Path: strings.Join(parts[:i+1], "/"), Err: syscall.ENOTDIR}
		}
		fh = next
	}
	return nil
}

// Remove removes the file or empty directory name, like os.Remove.
func (f *NFSFileSystem) Remove(name string) error {
	dir, base, err := f.parent("remove", name)
	if err != nil {
		return err
	}
	_, a, err := f.c.Lookup(dir, base)
	if err != nil {
		return nfsPathError("remove", name, err)
	}
	return nfsPathError("remove", name, f.c.Remove(dir, base, a.Type == nfsclient.TypeDir))
}

// RemoveAll removes p and everything it contains, like os.RemoveAll: a
// missing p is not an error. Removing "." is refused (fs.ErrInvalid).
func (f *NFSFileSystem) RemoveAll(p string) error {
	dir, base, err := f.parent("removeall", p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	fh, a, err := f.c.Lookup(dir, base)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return nfsPathError("removeall", p, err)
	}
	if a.Type == nfsclient.TypeDir {
		if err := f.removeTree(fh, p); err != nil {
			return err
		}
	}
	err = f.c.Remove(dir, base, a.Type == nfsclient.TypeDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return nfsPathError("removeall", p, err)
}

func (f *NFSFileSystem) removeTree(fh []byte, p string) error {
	ents, err := f.c.ReadDir(fh)
	if err != nil {
		return nfsPathError("removeall", p, err)
	}
	for _, e := range ents {
		child := path.Join(p, e.Name)
		isDir := e.Attr.Type == nfsclient.TypeDir
		if isDir {
			cfh, _, err := f.c.Lookup(fh, e.Name)
			if err != nil {
				return nfsPathError("removeall", child, err)
			}
			if err := f.removeTree(cfh, child); err != nil {
				return err
			}
		}
		if err := f.c.Remove(fh, e.Name, isDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nfsPathError("removeall", child, err)
		}
	}
	return nil
}

// Rename renames oldpath to newpath, like os.Rename (replacing a file).
func (f *NFSFileSystem) Rename(oldpath, newpath string) error {
	fromDir, from, err := f.parent("rename", oldpath)
	if err != nil {
		return err
	}
	toDir, to, err := f.parent("rename", newpath)
	if err != nil {
		return err
	}
	if err := f.c.Rename(fromDir, from, toDir, to); err != nil {
		return &fs.PathError{Op: "rename", Path: oldpath + " -> " + newpath, Err: err}
	}
	return nil
}

// nfsDir is an open directory.
type nfsDir struct {
	fs   *NFSFileSystem
	fh   []byte
	name string
	info *nfsFileInfo
	ents []fs.DirEntry
	read bool
}

func (d *nfsDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *nfsDir) Close() error               { return nil }
func (d *nfsDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: syscall.EISDIR}
}

func (d *nfsDir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.readDir(d.fh)
		if err != nil {
			return nil, nfsPathError("readdir", d.name, err)
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	out := d.ents[:n:n]
	d.ents = d.ents[n:]
	return out, nil
}
