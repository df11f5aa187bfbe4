//go:build !windows

package server

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// workspaceFiles is one workspace's file tree: its os.Root, which confines
// every path to the workspace, and the owner given to what the server
// creates in it. Its methods are the file operations the handlers share.
type workspaceFiles struct {
	*os.Root
	owner  fileOwner
	tmpDir string // the data dir's directory of temporary files
}

// fileOwner is the host uid and gid that files and directories the server
// creates in a workspace are chowned to; chown is false when the server
// does not run as root.
type fileOwner struct {
	uid, gid int
	chown    bool
}

// openRegular opens rel for reading, refusing directories (3005) and
// special files at once (O_NONBLOCK: a FIFO never blocks the open).
func (wf workspaceFiles) openRegular(rel string) (*os.File, os.FileInfo, error) {
	fi, err := wf.Stat(rel)
	if err != nil {
		return nil, nil, err
	}
	if err := checkRegular(fi); err != nil {
		return nil, nil, err
	}
	f, err := wf.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	if fi, err = f.Stat(); err == nil {
		err = checkRegular(fi)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

func checkRegular(fi os.FileInfo) error {
	switch {
	case fi.IsDir():
		return syscall.EISDIR
	case !fi.Mode().IsRegular():
		return errSpecial
	}
	return nil
}

// writeAtomic writes data to rel durably: through a temporary file
// outside the workspace, fsynced and renamed into place (parents are
// created), then the directory fsynced.
func (wf workspaceFiles) writeAtomic(rel string, data []byte) error {
	if err := wf.checkTarget(rel); err != nil {
		return err
	}
	f, err := wf.createTemp()
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		discardTemp(f)
		return err
	}
	return wf.commitTemp(f, rel)
}

// checkTarget refuses, before any byte is written, a target that cannot
// be a file: a bad final name, or a directory in the way.
func (wf workspaceFiles) checkTarget(rel string) error {
	if _, _, err := splitRel(rel); err != nil {
		return err
	}
	if fi, err := wf.Lstat(rel); err == nil && fi.IsDir() {
		return syscall.EISDIR
	}
	return nil
}

// createTemp creates a temporary file in the data dir's tmp directory,
// owned by the sandbox uid. It lives outside every workspace, so a crash
// leaves nothing partial in one (the directory is swept at start). The
// caller writes it, then calls commitTemp or discardTemp.
func (wf workspaceFiles) createTemp() (*os.File, error) {
	f, err := os.CreateTemp(wf.tmpDir, "write-*")
	if err != nil {
		return nil, err
	}
	if wf.owner.chown {
		if err := f.Chown(wf.owner.uid, wf.owner.gid); err != nil {
			discardTemp(f)
			return nil, err
		}
	}
	return f, nil
}

// discardTemp closes and removes a temporary file of createTemp.
func discardTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// commitTemp makes the temporary file f durable and moves it to rel: fsync
// of the file, missing parents created, rename into the parent directory
// (opened through the workspace root, so confined to it), fsync of that
// directory. f is closed; on failure it is removed.
func (wf workspaceFiles) commitTemp(f *os.File, rel string) error {
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = wf.renameInto(f.Name(), rel)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// renameInto renames the host file tmp to rel in the workspace and fsyncs
// the directory. A directory at rel is EISDIR.
func (wf workspaceFiles) renameInto(tmp, rel string) error {
	dir, name, err := splitRel(rel)
	if err != nil {
		return err
	}
	if err := wf.mkdirAll(dir); err != nil {
		return err
	}
	d, err := wf.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	rc, err := d.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := rc.Control(func(fd uintptr) { rerr = unix.Renameat(unix.AT_FDCWD, tmp, int(fd), name) }); err != nil {
		return err
	}
	if rerr != nil {
		if errors.Is(rerr, syscall.EEXIST) || errors.Is(rerr, syscall.ENOTEMPTY) {
			return syscall.EISDIR
		}
		return &fs.PathError{Op: "rename", Path: rel, Err: rerr}
	}
	return d.Sync()
}

// mkdirAll is mkdir -p inside root; directories it creates are owned by
// the sandbox uid. A non-directory in the way is ENOTDIR.
func (wf workspaceFiles) mkdirAll(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if fi, err := wf.Stat(dir); err == nil {
		if !fi.IsDir() {
			return syscall.ENOTDIR
		}
		return nil
	}
	parts := strings.Split(dir, "/")
	cur := ""
	for _, part := range parts {
		if part == "" {
			continue
		}
		if cur == "" {
			cur = part
		} else {
			cur += "/" + part
		}
		if part == "." || part == ".." {
			continue
		}
		err := wf.Mkdir(cur, 0o755)
		switch {
		case err == nil:
			if wf.owner.chown {
				if err := wf.Lchown(cur, wf.owner.uid, wf.owner.gid); err != nil {
					return err
				}
			}
		case errors.Is(err, fs.ErrExist):
			fi, serr := wf.Stat(cur)
			if serr != nil {
				return serr
			}
			if !fi.IsDir() {
				return syscall.ENOTDIR
			}
		default:
			return err
		}
	}
	return nil
}
