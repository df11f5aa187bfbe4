package server

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// workspaceFiles is one workspace's file tree: its os.Root, which confines
// every path to the workspace, and the owner given to what the server
// creates in it. Its methods are the file operations the handlers share.
type workspaceFiles struct {
	*os.Root
	owner fileOwner
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

// writeFileAtomic writes data to rel through a temporary file in the same
// directory renamed into place; parents are created.
func (wf workspaceFiles) writeAtomic(rel string, data []byte) error {
	f, tmp, err := wf.createTemp(rel)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		wf.Remove(tmp)
		return err
	}
	return wf.commitTemp(tmp, rel)
}

// createTemp creates the parents of rel and a temporary file next to it
// (owned by the sandbox uid). The caller writes it, closes it and calls
// commitTemp, or removes tmp on failure. raw.go streams through it.
func (wf workspaceFiles) createTemp(rel string) (f *os.File, tmp string, err error) {
	dir, name, err := splitRel(rel)
	if err != nil {
		return nil, "", err
	}
	if err := wf.mkdirAll(dir); err != nil {
		return nil, "", err
	}
	if fi, err := wf.Lstat(rel); err == nil && fi.IsDir() {
		return nil, "", syscall.EISDIR
	}
	for range 10 {
		tmp = dir + "/." + name + ".tmp-" + newID()[:8]
		if len(name) > 200 {
			tmp = dir + "/.tmp-" + newID()
		}
		f, err = wf.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		break
	}
	if err != nil {
		return nil, "", err
	}
	if wf.owner.chown {
		if err := f.Chown(wf.owner.uid, wf.owner.gid); err != nil {
			f.Close()
			wf.Remove(tmp)
			return nil, "", err
		}
	}
	return f, tmp, nil
}

// commitTemp renames tmp over rel, removing tmp when that fails.
func (wf workspaceFiles) commitTemp(tmp, rel string) error {
	if err := wf.Rename(tmp, rel); err != nil {
		wf.Remove(tmp)
		var errno syscall.Errno
		if errors.As(err, &errno) && (errno == syscall.EEXIST || errno == syscall.ENOTEMPTY) {
			return syscall.EISDIR
		}
		return err
	}
	return nil
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
