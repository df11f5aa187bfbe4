//go:build !windows

package server

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// connLimiter caps the open HTTP connections. Accept waits for a free slot
// (clients beyond the cap wait in the kernel's backlog) and hands net/http
// the *net.TCPConn itself, not a wrapper, so downloads keep sendfile(2)
// (netutil.LimitListener's wrapper would hide it). A slot is freed when
// http.Server reports the connection closed or hijacked (ConnState).
// Accept errors (EMFILE, ENFILE, ...) are logged at warn and retried with
// a backoff instead of spinning.
type connLimiter struct {
	net.Listener
	log   *slog.Logger
	slots chan struct{}
	done  chan struct{}
	once  sync.Once
}

// maxConnections returns n, or the default, kept below half the file
// limit so the server itself keeps descriptors for files and sandboxes.
func maxConnections(n int) int {
	if n <= 0 {
		n = DefaultMaxConnections
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur > 0 && rl.Cur < uint64(2*n) {
		n = max(int(rl.Cur/2), 1)
	}
	return n
}

func newConnLimiter(l net.Listener, n int, log *slog.Logger) *connLimiter {
	return &connLimiter{Listener: l, log: log, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept implements net.Listener.
func (l *connLimiter) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			<-l.slots
			return nil, err
		}
		delay = min(max(2*delay, 5*time.Millisecond), time.Second)
		l.log.Warn("http accept failed; retrying", "err", err, "retry_in", delay)
		select {
		case <-time.After(delay):
		case <-l.done:
			<-l.slots
			return nil, net.ErrClosed
		}
	}
}

// connState frees a slot when a connection ends; set it as
// http.Server.ConnState.
func (l *connLimiter) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		<-l.slots
	}
}

// Close implements net.Listener.
func (l *connLimiter) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}
