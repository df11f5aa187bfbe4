//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// errUnsupported is returned by every operation on systems other than
// Linux: sandboxes need Linux namespaces and bubblewrap.
var errUnsupported = fmt.Errorf("sandbox: bubblewrap sandboxes need Linux: %w", errors.ErrUnsupported)

// MaybeRunAgent does nothing on this system: there is no agent mode
// outside Linux.
func MaybeRunAgent() {}

// Manager starts and tracks sandboxes; on this system it cannot be made.
type Manager struct{}

// NewManager fails with an error matching errors.ErrUnsupported.
func NewManager(cfg Config) (*Manager, error) { return nil, errUnsupported }

// Start fails with an error matching errors.ErrUnsupported.
func (m *Manager) Start(ctx context.Context, spec Spec) (*Sandbox, error) {
	return nil, errUnsupported
}

// Close does nothing.
func (m *Manager) Close() error { return nil }

// Sandbox is one running sandbox; on this system there are none.
type Sandbox struct{}

// Run fails with an error matching errors.ErrUnsupported.
func (s *Sandbox) Run(ctx context.Context, req ExecRequest) (*ExecResult, error) {
	return nil, errUnsupported
}

// Start fails with an error matching errors.ErrUnsupported.
func (s *Sandbox) Start(ctx context.Context, req ExecRequest) (*Process, error) {
	return nil, errUnsupported
}

// Signal fails with an error matching errors.ErrUnsupported.
func (s *Sandbox) Signal(pid int, sig syscall.Signal) error { return errUnsupported }

// OpenPTY fails with an error matching errors.ErrUnsupported.
func (s *Sandbox) OpenPTY(ctx context.Context, req PTYRequest) (*PTY, error) {
	return nil, errUnsupported
}

// Stop does nothing.
func (s *Sandbox) Stop(grace time.Duration) error { return nil }

// Done returns a closed channel.
func (s *Sandbox) Done() <-chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// Err reports errors.ErrUnsupported.
func (s *Sandbox) Err() error { return errUnsupported }

// HostPID returns 0.
func (s *Sandbox) HostPID() int { return 0 }

// ID returns "".
func (s *Sandbox) ID() string { return "" }

// Process is a command started with Start; on this system there are none.
type Process struct {
	PID    int
	Stdout io.ReadCloser
	Stderr io.ReadCloser
}

// Wait fails with an error matching errors.ErrUnsupported.
func (p *Process) Wait() (int, error) { return -1, errUnsupported }

// Kill does nothing.
func (p *Process) Kill() error { return nil }

// WriteStdin fails with an error matching errors.ErrUnsupported.
func (p *Process) WriteStdin(ctx context.Context, b []byte) error { return errUnsupported }

// CloseStdin fails with an error matching errors.ErrUnsupported.
func (p *Process) CloseStdin() error { return errUnsupported }

// PTY is a shell on a pseudo-terminal; on this system there are none.
type PTY struct {
	PID    int
	Master *os.File
}

// Resize fails with an error matching errors.ErrUnsupported.
func (p *PTY) Resize(cols, rows int) error { return errUnsupported }

// Wait fails with an error matching errors.ErrUnsupported.
func (p *PTY) Wait() (int, error) { return -1, errUnsupported }

// Kill does nothing.
func (p *PTY) Kill() error { return nil }
