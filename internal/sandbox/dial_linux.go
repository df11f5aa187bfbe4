//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Dialing a TCP port of the sandbox: the host sends opDial with the port;
// the agent, which lives in the sandbox's network namespace, connects to
// 127.0.0.1:port and answers evDialed with the connected socket attached
// (SCM_RIGHTS): the bytes then flow between the host and the sandboxed
// server directly, never through the agent. A failed connect is answered
// evError with Code set to the errno. evDialed is, like the evStarted
// answer of opPTY, a reply that carries exactly one descriptor.
const (
	opDial   = "dial"   // request: Port; answer evDialed + 1 fd, or evError
	evDialed = "dialed" // the connected socket is attached
)

// agentDialTimeout bounds a connect inside the sandbox (a listener with a
// full backlog drops SYNs instead of refusing).
const agentDialTimeout = 10 * time.Second

// DialPort connects to 127.0.0.1:port inside the sandbox's network
// namespace and returns the connection. Nothing listening is an error
// matching ErrPortNotReachable (and the errno, e.g. syscall.ECONNREFUSED);
// ErrNotRunning when the sandbox is gone.
func (s *Sandbox) DialPort(ctx context.Context, port int) (net.Conn, error) {
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("sandbox: bad port %d", port)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, err := s.call(&request{Op: opDial, Port: port}, nil)
	if err != nil {
		return nil, err
	}
	var m *message
	select {
	case msg, ok := <-ch:
		if !ok {
			return nil, ErrNotRunning
		}
		m = msg
	case <-ctx.Done():
		// The answer may still come: close its socket when it does.
		go func() {
			if msg, ok := <-ch; ok {
				closeFDs(msg.fds)
			}
		}()
		return nil, ctx.Err()
	}
	if m.Ev != evDialed || len(m.fds) != 1 {
		closeFDs(m.fds)
		if m.Ev == evError && m.Code != 0 {
			errno := syscall.Errno(m.Code)
			if errno == syscall.ECONNREFUSED || errno == syscall.ECONNRESET || errno == syscall.ETIMEDOUT {
				return nil, fmt.Errorf("%w: 127.0.0.1:%d: %w", ErrPortNotReachable, port, errno)
			}
			return nil, fmt.Errorf("sandbox: dial port %d: %w", port, errno)
		}
		return nil, fmt.Errorf("sandbox: dial port %d: %s", port, m.Msg)
	}
	f := os.NewFile(uintptr(m.fds[0]), "sandbox-port-"+strconv.Itoa(port))
	c, err := net.FileConn(f) // dups the descriptor into the poller
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("sandbox: dial port %d: %w", port, err)
	}
	return c, nil
}

// dial is the agent's side of opDial. It runs in its own goroutine so a
// slow connect never holds up other requests.
func (a *agent) dial(r *request) {
	d := net.Dialer{Timeout: agentDialTimeout}
	c, err := d.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(r.Port))
	if err != nil {
		code := 0
		var errno syscall.Errno
		if errors.As(err, &errno) {
			code = int(errno)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			code = int(syscall.ETIMEDOUT)
		}
		a.send(&message{ID: r.ID, Ev: evError, Code: code, Msg: err.Error()}, nil)
		return
	}
	defer c.Close()
	f, err := c.(*net.TCPConn).File()
	if err != nil {
		a.send(&message{ID: r.ID, Ev: evError, Msg: err.Error()}, nil)
		return
	}
	defer f.Close()
	a.send(&message{ID: r.ID, Ev: evDialed}, []int{int(f.Fd())})
}
