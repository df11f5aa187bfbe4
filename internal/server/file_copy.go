//go:build !windows

package server

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// copyFile copies the regular file src to dst atomically.
func (wf workspaceFiles) copyFile(src, dst string, perm fs.FileMode) error {
	in, _, err := wf.openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := wf.checkTarget(dst); err != nil {
		return err
	}
	out, err := wf.createTemp()
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(perm)
	}
	if err != nil {
		discardTemp(out)
		return err
	}
	return wf.commitTemp(out, dst)
}

// copyDir copies the directory src to dst recursively; symlinks are
// copied as symlinks and special files are skipped.
func (wf workspaceFiles) copyDir(src, dst string, perm fs.FileMode) error {
	if err := wf.Mkdir(dst, perm|0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if wf.owner.chown {
		if err := wf.Lchown(dst, wf.owner.uid, wf.owner.gid); err != nil {
			return err
		}
	}
	d, err := wf.OpenFile(src, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return err
	}
	for _, name := range names {
		sp, dp := src+"/"+name, dst+"/"+name
		fi, err := wf.Lstat(sp)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return err
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			err = wf.copyDir(sp, dp, m.Perm())
		case m&fs.ModeSymlink != 0:
			var target string
			if target, err = wf.Readlink(sp); err == nil {
				wf.Remove(dp)
				if err = wf.Symlink(target, dp); err == nil && wf.owner.chown {
					err = wf.Lchown(dp, wf.owner.uid, wf.owner.gid)
				}
			}
		case m.IsRegular():
			err = wf.copyFile(sp, dp, m.Perm())
		}
		if err != nil {
			return err
		}
	}
	return nil
}
