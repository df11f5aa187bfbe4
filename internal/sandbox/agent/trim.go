//go:build linux

package agent

import (
	"bytes"
	"os"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"
)

// trimMemory drops what the idle agent does not need from its resident
// set: the pages of read-only file mappings (the executable's text and
// read-only data, shared libraries) that start-up touched, including
// every package's init in a large binary and the kernel's fault-around,
// and the heap's free pages. Read-only file pages that were never
// written are identical to the page cache, so MADV_DONTNEED only unmaps
// them and later use faults them back in from the page cache (no I/O);
// mappings holding private copies (Anonymous > 0, e.g. relocated RELRO
// data) are left alone.
func trimMemory() {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	var start, end uintptr
	drop := false
	flush := func() {
		if drop && end > start {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
		}
		drop = false
	}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && !bytes.ContainsAny(k, " -") {
			// "Key:   N kB" of the current mapping.
			if string(k) == "Anonymous" && string(bytes.TrimSpace(v)) != "0 kB" {
				drop = false
			}
			continue
		}
		// A mapping header: "start-end perms offset dev inode path".
		flush()
		f := bytes.Fields(line)
		if len(f) < 6 || len(f[1]) != 4 || f[1][1] == 'w' || f[5][0] != '/' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(lo), 16, 64)
		e, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		start, end, drop = uintptr(s), uintptr(e), true
	}
	flush()
}
