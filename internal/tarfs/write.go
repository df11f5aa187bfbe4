package tarfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
)

// WriteOptions configures WriteTree. A nil *WriteOptions is all defaults.
type WriteOptions struct {
	// OnFile, when set, is called after each regular file with its size.
	OnFile func(size int64)
	// Skip, when set, leaves out the entry p (relative to the tree's
	// top) and, for a directory, everything under it.
	Skip func(p string) bool
}

// WriteTree writes a tar of dir (a path inside root) to w. Entry names are
// relative to dir, directories end in "/". When dir is a regular file the
// tar holds that one file under its base name. Symlinks are stored as
// links (never followed), FIFOs, sockets and devices are skipped. A file
// that shrinks while it is read fails the call (the tar is then
// incomplete: w must not be treated as a valid archive).
func WriteTree(w io.Writer, root *os.Root, dir string, o *WriteOptions) error {
	if o == nil {
		o = &WriteOptions{}
	}
	tw := tar.NewWriter(w)
	fi, err := root.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: not a regular file or directory", dir)
		}
		if err := writeFile(tw, root, dir, path.Base(path.Clean("/"+dir)), o); err != nil {
			return err
		}
		return tw.Close()
	}
	sub, err := root.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer sub.Close()
	err = fs.WalkDir(sub.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		if o.Skip != nil && o.Skip(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t.IsDir():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()})
		case t&fs.ModeSymlink != 0:
			fi, err := d.Info()
			if err != nil {
				return err
			}
			link, err := sub.Readlink(p)
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: p, Linkname: link, Mode: 0o777, ModTime: fi.ModTime()})
		case t.IsRegular():
			return writeFile(tw, sub, p, p, o)
		default:
			return nil // FIFOs, sockets, devices
		}
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// writeFile adds the regular file p of root as name.
func writeFile(tw *tar.Writer, root *os.Root, p, name string, o *WriteOptions) error {
	f, err := root.OpenFile(p, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while walking
		}
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil // replaced by a special file while walking
	}
	h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: fi.ModTime()}
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, f, h.Size); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	if o.OnFile != nil {
		o.OnFile(h.Size)
	}
	return nil
}
