package nfsserver

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	billy "github.com/go-git/go-billy/v5"
)

// invalidPath is what Join returns for a component list that is not a list
// of plain names; every rootFS operation refuses it.
const invalidPath = "\x00invalid"

// rootFS is a billy.Filesystem confined to one workspace directory by
// os.Root: no path, symlink or ".." resolved through it can leave the
// directory (the kernel-backed os.Root checks every step).
type rootFS struct {
	exp  *export
	root *os.Root
	// uid and gid own what the server creates; -1 leaves the server's own.
	uid, gid int
}

var (
	_ billy.Filesystem = (*rootFS)(nil)
	_ billy.Change     = (*rootFS)(nil)
)

// validName reports whether s is a single plain directory entry name.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// Join joins path components that must each be plain names (never "", ".",
// "..", or a name with '/' or NUL); anything else gives a path that every
// operation refuses. No components is the export root ".".
func (r *rootFS) Join(elem ...string) string {
	if len(elem) == 0 {
		return "."
	}
	for _, e := range elem {
		if !validName(e) {
			return invalidPath
		}
	}
	return strings.Join(elem, "/")
}

// check validates a path produced by Join.
func check(op, name string) error {
	if name == invalidPath || strings.ContainsRune(name, 0) || !fs.ValidPath(name) {
		return &os.PathError{Op: op, Path: name, Err: os.ErrInvalid}
	}
	return nil
}

func (r *rootFS) chown(name string) {
	if r.uid >= 0 || r.gid >= 0 {
		_ = r.root.Lchown(name, r.uid, r.gid)
	}
}

func (r *rootFS) Create(name string) (billy.File, error) {
	return r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (r *rootFS) Open(name string) (billy.File, error) {
	return r.OpenFile(name, os.O_RDONLY, 0)
}

func (r *rootFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if err := check("open", name); err != nil {
		return nil, err
	}
	created := false
	if flag&os.O_CREATE != 0 {
		if _, err := r.root.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			created = true
		}
	}
	// O_NONBLOCK: opening a FIFO planted in the workspace must not block
	// the server; anything but a regular file or a directory is refused.
	f, err := r.root.OpenFile(name, flag|syscall.O_NONBLOCK, perm)
	if err != nil {
		if errors.Is(err, syscall.ENXIO) { // a FIFO without a reader
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !(fi.Mode().IsRegular() || fi.IsDir()) {
		f.Close()
		if err == nil {
			err = &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
		}
		return nil, err
	}
	if created {
		r.chown(name)
	}
	return &rootFile{File: f, name: name}, nil
}

func (r *rootFS) Stat(name string) (os.FileInfo, error) {
	if err := check("stat", name); err != nil {
		return nil, err
	}
	return r.root.Stat(name)
}

func (r *rootFS) Lstat(name string) (os.FileInfo, error) {
	if err := check("lstat", name); err != nil {
		return nil, err
	}
	return r.root.Lstat(name)
}

func (r *rootFS) Rename(oldpath, newpath string) error {
	if err := check("rename", oldpath); err != nil {
		return err
	}
	if err := check("rename", newpath); err != nil {
		return err
	}
	return r.root.Rename(oldpath, newpath)
}

func (r *rootFS) Remove(name string) error {
	if err := check("remove", name); err != nil {
		return err
	}
	if name == "." {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrPermission}
	}
	return r.root.Remove(name)
}

func (r *rootFS) TempFile(dir, prefix string) (billy.File, error) {
	for range 100 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		name := path.Join(dir, prefix+hex.EncodeToString(b[:]))
		f, err := r.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, &os.PathError{Op: "tempfile", Path: dir, Err: fs.ErrExist}
}

func (r *rootFS) ReadDir(name string) ([]os.FileInfo, error) {
	if err := check("readdir", name); err != nil {
		return nil, err
	}
	f, err := r.root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdir(-1)
}

func (r *rootFS) MkdirAll(name string, perm os.FileMode) error {
	if err := check("mkdir", name); err != nil {
		return err
	}
	if name == "." {
		return nil
	}
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		err := r.root.Mkdir(p, perm)
		if err == nil {
			r.chown(p)
			continue
		}
		if errors.Is(err, fs.ErrExist) {
			if st, serr := r.root.Stat(p); serr == nil && st.IsDir() {
				continue
			}
		}
		return err
	}
	return nil
}

func (r *rootFS) Symlink(target, link string) error {
	if err := check("symlink", link); err != nil {
		return err
	}
	if strings.ContainsRune(target, 0) {
		return &os.PathError{Op: "symlink", Path: link, Err: os.ErrInvalid}
	}
	if err := r.root.Symlink(target, link); err != nil {
		return err
	}
	r.chown(link)
	return nil
}

func (r *rootFS) Readlink(link string) (string, error) {
	if err := check("readlink", link); err != nil {
		return "", err
	}
	return r.root.Readlink(link)
}

func (r *rootFS) Chroot(string) (billy.Filesystem, error) {
	return nil, errors.New("nfsserver: chroot not supported")
}

// Root returns "/": the host directory is never revealed.
func (r *rootFS) Root() string { return "/" }

func (r *rootFS) Chmod(name string, mode os.FileMode) error {
	if err := check("chmod", name); err != nil {
		return err
	}
	return r.root.Chmod(name, mode&os.ModePerm)
}

// Lchown only lets clients hand files to the configured owner (or keep
// the current one): an NFS client must not give files to other host users.
func (r *rootFS) Lchown(name string, uid, gid int) error {
	if err := check("lchown", name); err != nil {
		return err
	}
	st, err := r.root.Lstat(name)
	if err != nil {
		return err
	}
	cu, cg := ownerOf(st)
	if (uid != cu && uid != r.uid) || (gid != cg && gid != r.gid) {
		return &os.PathError{Op: "lchown", Path: name, Err: os.ErrPermission}
	}
	return r.root.Lchown(name, uid, gid)
}

func (r *rootFS) Chown(name string, uid, gid int) error { return r.Lchown(name, uid, gid) }

func (r *rootFS) Chtimes(name string, atime, mtime time.Time) error {
	if err := check("chtimes", name); err != nil {
		return err
	}
	return r.root.Chtimes(name, atime, mtime)
}

// rootFile adapts *os.File to billy.File.
type rootFile struct {
	*os.File
	name string
}

func (f *rootFile) Name() string  { return f.name }
func (f *rootFile) Lock() error   { return nil }
func (f *rootFile) Unlock() error { return nil }
