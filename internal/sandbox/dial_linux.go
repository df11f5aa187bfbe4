//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"net"
	"os"
	"strconv"
	"syscall"
)

// Dialing a TCP port of the sandbox: the host sends agent.OpDial with the
// port; the agent, which lives in the sandbox's network namespace,
// connects to 127.0.0.1:port and answers agent.EvDialed with the
// connected socket attached (SCM_RIGHTS): the bytes then flow between the
// host and the sandboxed server directly, never through the agent. A
// failed connect is answered agent.EvError with Code set to the errno.
// EvDialed is, like the EvStarted answer of OpPTY, a reply that carries
// exactly one descriptor.

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
	ch, err := s.call(&agent.Request{Op: agent.OpDial, Port: port}, nil)
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
	if m.Ev != agent.EvDialed || len(m.fds) != 1 {
		closeFDs(m.fds)
		if m.Ev == agent.EvError && m.Code != 0 {
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
