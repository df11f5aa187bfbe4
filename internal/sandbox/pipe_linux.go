//go:build linux

package sandbox

import (
	"os"

	"golang.org/x/sys/unix"
)

// outPipeSize is the capacity asked for output pipes (the default is 64
// KiB): a command writing fast fills it while the server is busy, and the
// server then reads it in big chunks, with fewer wake-ups on both sides.
// The kernel allocates the pages only as data is queued.
const outPipeSize = 1 << 20

// newPipe returns a pipe whose parent end (read end when forRead) is
// non-blocking and pollable, and whose child end stays blocking. Output
// pipes (forRead) get outPipeSize when the server is privileged; the
// kernel caps unprivileged users' pipe memory (fs.pipe-user-pages-soft)
// and, once over it, shrinks every new pipe of that user, so they keep
// the default. A refused size is ignored.
func (m *Manager) newPipe(forRead bool) (parent *os.File, child int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, err
	}
	if forRead && m.asRoot {
		_, _ = unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, outPipeSize)
	}
	pi, ci := p[0], p[1]
	if !forRead {
		pi, ci = p[1], p[0]
	}
	if err := unix.SetNonblock(pi, true); err != nil {
		unix.Close(pi)
		unix.Close(ci)
		return nil, -1, err
	}
	return os.NewFile(uintptr(pi), "pipe"), ci, nil
}
