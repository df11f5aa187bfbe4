//go:build linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"os"

	"golang.org/x/sys/unix"
)

// OpenPTY starts a shell on a new PTY inside the sandbox, in /workspace.
// The caller owns PTY.Master and must eventually call Kill or close it.
// ErrNotRunning when the sandbox is gone.
func (s *Sandbox) OpenPTY(ctx context.Context, req PTYRequest) (*PTY, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Cols <= 0 {
		req.Cols = 80
	}
	if req.Rows <= 0 {
		req.Rows = 24
	}
	env := mergeEnv(map[string]string{"TERM": "xterm-256color"}, s.env, req.Env)
	ch, err := s.call(&agent.Request{
		Op: agent.OpPTY, Path: req.Shell, Env: envList(env), Cwd: "/workspace",
		Cols: req.Cols, Rows: req.Rows,
	}, nil)
	if err != nil {
		return nil, err
	}
	first, err := s.await(ch, "a PTY")
	if err != nil {
		return nil, err
	}
	if first.Ev != agent.EvStarted || len(first.fds) != 1 {
		closeFDs(first.fds)
		return nil, fmt.Errorf("sandbox: open pty: %s", first.Msg)
	}
	if err := unix.SetNonblock(first.fds[0], true); err != nil {
		closeFDs(first.fds)
		s.killGroup(first.PID)
		return nil, err
	}
	p := &PTY{
		PID:    first.PID,
		Master: os.NewFile(uintptr(first.fds[0]), "ptmx"),
		s:      s,
		exited: make(chan struct{}),
	}
	go func() {
		m, ok := <-ch
		if !ok {
			p.code, p.err = -1, s.goneErr()
		} else {
			p.code = m.Code
		}
		close(p.exited)
	}()
	return p, nil
}

// Stop ends the sandbox: SIGTERM to everything, then SIGKILL after grace
// (grace 0 = kill at once). Idempotent and safe to call concurrently;
// returns when the sandbox and all its processes are gone.

// PTY is a shell on a pseudo-terminal inside a sandbox. Master is the PTY
// master: read output from it, write input to it. Once the shell and
// every process holding the terminal are gone, reads return the remaining
// output and then fail with EIO: treat that as end of output.
type PTY struct {
	PID    int
	Master *os.File

	s      *Sandbox
	exited chan struct{}
	code   int
	err    error
}

// Resize sets the terminal size (the shell gets SIGWINCH).
func (p *PTY) Resize(cols, rows int) error {
	if cols <= 0 || rows <= 0 || cols > 0xffff || rows > 0xffff {
		return fmt.Errorf("sandbox: bad terminal size %dx%d", cols, rows)
	}
	rc, err := p.Master.SyscallConn()
	if err != nil {
		return err
	}
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		ierr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	}); err != nil {
		return err
	}
	return ierr
}

// Wait waits for the shell to exit and returns its exit code (128+sig
// when killed by a signal); ErrNotRunning (code -1) when the sandbox died
// first.
func (p *PTY) Wait() (int, error) {
	<-p.exited
	return p.code, p.err
}

// Kill kills the shell's process group and closes the master. Idempotent.
func (p *PTY) Kill() error {
	select {
	case <-p.exited:
	default:
		p.s.killGroup(p.PID)
	}
	if err := p.Master.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
