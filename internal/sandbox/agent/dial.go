//go:build linux

package agent

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dialTimeout bounds a connect inside the sandbox (a listener with a full
// backlog drops SYNs instead of refusing).
const dialTimeout = 10 * time.Second

// dial is the agent's side of OpDial: it connects to 127.0.0.1:Port in the
// sandbox's network namespace and hands the connected socket over; the
// bytes then flow between the host and the sandboxed server directly. It
// runs in its own goroutine so a slow connect never holds up other
// requests.
func (a *agent) dial(r *Request) {
	fd, err := connectLoopback(r.Port)
	if err != nil {
		code := 0
		var errno syscall.Errno
		if errors.As(err, &errno) {
			code = int(errno)
		}
		a.send(&Message{ID: r.ID, Ev: EvError, Code: code, Msg: "dial 127.0.0.1: " + err.Error()}, nil)
		return
	}
	a.send(&Message{ID: r.ID, Ev: EvDialed}, []int{fd})
	unix.Close(fd)
}

// connectLoopback connects a TCP socket to 127.0.0.1:port, waiting on the
// runtime's poller, and returns its descriptor (close-on-exec). A timeout
// is ETIMEDOUT.
func connectLoopback(port int) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	err = unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
	if err == nil {
		return fd, nil
	}
	if err != unix.EINPROGRESS && err != unix.EINTR {
		unix.Close(fd)
		return -1, err
	}
	// In progress: wait until writable, then read the outcome. The
	// os.File takes a duplicate so that closing it leaves fd alone.
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	f := os.NewFile(uintptr(dup), "dial") // non-blocking: on the poller
	defer f.Close()
	raw, err := f.SyscallConn()
	if err == nil {
		_ = f.SetWriteDeadline(time.Now().Add(dialTimeout))
		first := true
		var cerr error
		err = raw.Write(func(uintptr) bool {
			if first { // the poller has not been asked yet
				first = false
				return false
			}
			if cerr = soError(fd); cerr != nil {
				return true
			}
			_, perr := unix.Getpeername(fd)
			return perr != unix.ENOTCONN // not yet: a spurious wake-up
		})
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = unix.ETIMEDOUT
		} else if err == nil {
			err = cerr
		}
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// soError returns the pending error of socket fd (SO_ERROR), nil for none.
func soError(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}
