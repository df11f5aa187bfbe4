//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// After a command exits, background processes it started may still hold
// its output pipes. Readers then see EOF once the pipe has been idle for
// drainIdle, or drainMax after the exit (data that was already in the
// pipe at exit is always delivered).
const (
	drainIdle = 100 * time.Millisecond
	drainMax  = 2 * time.Second
)

// outPipe is the server's read end of a command's output pipe. After the
// command exits it delivers what was already in the pipe, then reports EOF
// when the pipe stays idle for drainIdle or drainMax has passed, even if a
// background process still holds the write end.
type outPipe struct {
	f *os.File

	mu       sync.Mutex
	done     bool
	exitedAt time.Time
	owed     int // bytes that were in the pipe at exit and not yet read
}

func (o *outPipe) exited(at time.Time) {
	owed := 0
	if rc, err := o.f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			owed, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
		})
	}
	o.mu.Lock()
	o.done, o.exitedAt, o.owed = true, at, owed
	o.mu.Unlock()
	_ = o.f.SetReadDeadline(at.Add(drainIdle))
}

// Read implements io.Reader.
func (o *outPipe) Read(p []byte) (int, error) {
	for {
		o.mu.Lock()
		done, owed, at := o.done, o.owed, o.exitedAt
		o.mu.Unlock()
		if done {
			switch {
			case owed > 0:
				if len(p) > owed {
					p = p[:owed]
				}
				_ = o.f.SetReadDeadline(time.Time{})
			case time.Since(at) >= drainMax:
				return 0, io.EOF
			default:
				_ = o.f.SetReadDeadline(time.Now().Add(drainIdle))
			}
		}
		n, err := o.f.Read(p)
		if done && n > 0 {
			o.mu.Lock()
			o.owed -= n
			o.mu.Unlock()
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				return n, nil
			}
			o.mu.Lock()
			d, ow := o.done, o.owed
			o.mu.Unlock()
			if d && ow <= 0 {
				return 0, io.EOF
			}
			continue
		}
		return n, err
	}
}

// Close closes the read end.
func (o *outPipe) Close() error { return o.f.Close() }
