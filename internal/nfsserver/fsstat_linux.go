package nfsserver

import (
	"os"

	"golang.org/x/sys/unix"
)

// statfs reports the free space of the filesystem holding dir.
func statfs(root *os.Root) (total, free, avail, files, ffree uint64, ok bool) {
	f, err := root.Open(".")
	if err != nil {
		return 0, 0, 0, 0, 0, false
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return 0, 0, 0, 0, 0, false
	}
	bs := uint64(st.Bsize)
	return st.Blocks * bs, st.Bfree * bs, st.Bavail * bs, st.Files, st.Ffree, true
}
