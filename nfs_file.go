package workspace

import (
	"io"
	"io/fs"
	"os"

	"github.com/elevo/workspace-sdk-go/internal/nfsclient"
)

// NFSFile is an open file of an NFSFileSystem: an io.Reader, io.ReaderAt,
// io.Writer, io.Seeker and io.Closer.
//
// Reads go through the session's cache; sequential Reads, however small
// the buffer, are served from a read-ahead window of 1 MiB READs.
//
// Writes are gathered into 1 MiB UNSTABLE WRITEs, several in flight, as
// the kernel client does; Sync and Close COMMIT them, so the data is on
// the server's disk when they return nil (it is resent if the server
// restarted before committing it). A write error, such as a full disk,
// may surface only from a later Write, Sync or Close: it is never lost,
// and every later call returns it. Reads of the same session see its
// writes at once; other clients see them after Sync or Close.
//
// An NFSFile is not safe for concurrent use, except ReadAt.
type NFSFile struct {
	fs     *NFSFileSystem
	f      *nfsclient.File
	name   string
	info   *nfsFileInfo
	flag   int
	off    int64
	closed bool
}

var (
	_ io.ReadWriteSeeker = (*NFSFile)(nil)
	_ io.ReaderAt        = (*NFSFile)(nil)
	_ io.Closer          = (*NFSFile)(nil)
)

func newNFSFile(fsys *NFSFileSystem, fh []byte, parts []string, name string, info *nfsFileInfo, flag int) *NFSFile {
	return &NFSFile{fs: fsys, f: fsys.c.OpenFile(fh, parts, &info.attr), name: name, info: info, flag: flag}
}

// usable checks that the file is open and its access mode allows op.
func (f *NFSFile) usable(op string, write bool) error {
	if f.closed {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	acc := f.flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	if write && acc == os.O_RDONLY {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	if !write && acc == os.O_WRONLY {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

// Name returns the name the file was opened with.
func (f *NFSFile) Name() string { return f.name }

// Stat returns fresh attributes from the server (after sending buffered
// writes).
func (f *NFSFile) Stat() (fs.FileInfo, error) {
	if f.closed {
		return nil, &fs.PathError{Op: "stat", Path: f.name, Err: fs.ErrClosed}
	}
	a, err := f.f.GetAttr()
	if err != nil {
		return nil, nfsPathError("stat", f.name, err)
	}
	return &nfsFileInfo{name: f.info.name, attr: *a}, nil
}

// Read reads up to len(p) bytes at the current offset.
func (f *NFSFile) Read(p []byte) (int, error) {
	if err := f.usable("read", false); err != nil {
		return 0, err
	}
	n, err := f.f.Read(p, f.off)
	f.off += int64(n)
	if err != nil && err != io.EOF {
		err = nfsPathError("read", f.name, err)
	}
	return n, err
}

// ReadAt reads len(p) bytes at off; it returns io.EOF if fewer were read.
func (f *NFSFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.usable("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "readat", Path: f.name, Err: fs.ErrInvalid}
	}
	n, err := f.f.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = nfsPathError("read", f.name, err)
	}
	return n, err
}

// Write writes p at the current offset (at the end with O_APPEND). The
// error may be that of an earlier write (see NFSFile).
func (f *NFSFile) Write(p []byte) (int, error) {
	if err := f.usable("write", true); err != nil {
		return 0, err
	}
	if f.flag&os.O_APPEND != 0 {
		a, err := f.f.GetAttr()
		if err != nil {
			return 0, nfsPathError("write", f.name, err)
		}
		f.off = int64(a.Filesize)
	}
	n, err := f.f.Write(p, f.off)
	f.off += int64(n)
	return n, nfsPathError("write", f.name, err)
}

// Seek sets the offset for the next Read or Write; io.SeekEnd asks the
// server for the size (after sending buffered writes).
func (f *NFSFile) Seek(offset int64, whence int) (int64, error) {
	if f.closed {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrClosed}
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		a, err := f.f.GetAttr()
		if err != nil {
			return 0, nfsPathError("seek", f.name, err)
		}
		base = int64(a.Filesize)
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	if base+offset < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fs.ErrInvalid}
	}
	f.off = base + offset
	return f.off, nil
}

// Sync sends buffered writes and commits them to the server's disk; it
// returns the first error of any write of the file.
func (f *NFSFile) Sync() error {
	if f.closed {
		return &fs.PathError{Op: "sync", Path: f.name, Err: fs.ErrClosed}
	}
	return nfsPathError("sync", f.name, f.f.Sync())
}

// Close commits the file's writes (like Sync) and closes it; it returns
// the first error of any write of the file. Later calls fail with
// fs.ErrClosed.
func (f *NFSFile) Close() error {
	if f.closed {
		return &fs.PathError{Op: "close", Path: f.name, Err: fs.ErrClosed}
	}
	f.closed = true
	return nfsPathError("close", f.name, f.f.Close())
}
