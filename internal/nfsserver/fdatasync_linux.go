package nfsserver

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fdatasync flushes f's data (and the metadata needed to read it back).
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

// startWriteback asks the kernel to start writing f's range [off, off+n)
// to disk without waiting (sync_file_range SYNC_FILE_RANGE_WRITE), so a
// later COMMIT finds most of an UNSTABLE stream already on disk. Errors
// are ignored: COMMIT's fsync reports them.
func startWriteback(f *os.File, off int64, n int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.SyncFileRange(int(fd), off, int64(n), unix.SYNC_FILE_RANGE_WRITE) })
}
