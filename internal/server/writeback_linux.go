package server

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing n bytes of f at off to
// disk now, so the fsync before an upload's answer has little left to do.
// A hint only: errors are ignored.
func startWriteback(f *os.File, off, n int64) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { //nolint:errcheck // a hint only
			unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) //nolint:errcheck // a hint only
		})
	}
}

// freeBytesAt returns the bytes available to this user on dir's
// filesystem.
func freeBytesAt(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
