//go:build unix

package nfsserver

import (
	"io/fs"
	"syscall"
)

// ownerOf returns the uid and gid of st, or -1, -1 when unknown.
func ownerOf(st fs.FileInfo) (int, int) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), int(s.Gid)
	}
	return -1, -1
}

// dirRemoved reports whether st (a directory) has been unlinked.
func dirRemoved(st fs.FileInfo) bool {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return s.Nlink == 0
	}
	return false
}
