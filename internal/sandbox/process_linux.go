//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// Run runs a command to completion. Cancelling ctx kills its process group
// and returns the partial output with an error wrapping ctx.Err(). On
// Timeout it kills the process group and returns the partial output
// together with an error wrapping ErrTimeout. ErrNotRunning when the
// sandbox is gone, or an error wrapping ErrAgentDead or ErrAgentTimeout
// (see Err) when its agent failed.
func (s *Sandbox) Run(ctx context.Context, req ExecRequest) (*ExecResult, error) {
	p, err := s.Start(ctx, req)
	if err != nil {
		return nil, err
	}
	max := req.MaxOutput
	if max <= 0 {
		max = DefaultMaxOutput
	}
	outBuf, errBuf := &capBuffer{max: max}, &capBuffer{max: max}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); outBuf.ReadFrom(p.Stdout) }()
	go func() { defer wg.Done(); errBuf.ReadFrom(p.Stderr) }()
	wg.Wait()
	p.Stdout.Close()
	p.Stderr.Close()
	code, werr := p.Wait()
	if isSandboxGone(werr) {
		return nil, werr
	}
	return &ExecResult{
		ExitCode:        code,
		Stdout:          outBuf.buf.Bytes(),
		Stderr:          errBuf.buf.Bytes(),
		StdoutTruncated: outBuf.dropped,
		StderrTruncated: errBuf.dropped,
	}, werr
}

// Start starts a command and returns at once; output flows through the
// Process pipes (back-pressure: an unread pipe blocks the process).
// Cancelling ctx, or Timeout elapsing, kills the process group (Wait then
// reports it). A command that cannot be started still yields a Process,
// with PID 0, the reason on Stderr and exit code 127 or 126. The caller
// must drain and Close Stdout and Stderr. ErrNotRunning when the sandbox
// is gone.
func (s *Sandbox) Start(ctx context.Context, req ExecRequest) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cwd := req.Cwd
	if cwd == "" {
		cwd = "/workspace"
	}
	r := &agent.Request{
		Op:    agent.OpExec,
		Path:  req.Command,
		Args:  append([]string{req.Command}, req.Args...),
		Env:   envList(mergeEnv(s.env, req.Env)),
		Cwd:   cwd,
		Stdin: req.Stdin != nil || req.OpenStdin,
	}
	var parents []*os.File
	var children []int
	cleanup := func() {
		for _, f := range parents {
			f.Close()
		}
		closeFDs(children)
	}
	var stdinW *os.File
	if req.Stdin != nil || req.OpenStdin {
		f, c, err := s.m.newPipe(false)
		if err != nil {
			return nil, err
		}
		stdinW = f
		parents, children = append(parents, f), append(children, c)
	}
	outR, outC, err := s.m.newPipe(true)
	if err != nil {
		cleanup()
		return nil, err
	}
	parents, children = append(parents, outR), append(children, outC)
	errR, errC, err := s.m.newPipe(true)
	if err != nil {
		cleanup()
		return nil, err
	}
	parents, children = append(parents, errR), append(children, errC)

	ch, err := s.call(r, children)
	closeFDs(children)
	children = nil
	if err != nil {
		cleanup()
		return nil, err
	}
	first, err := s.await(ch, "exec "+req.Command)
	if err != nil {
		cleanup()
		return nil, err
	}
	if first.Ev == agent.EvError {
		cleanup()
		return nil, fmt.Errorf("sandbox: exec %s: %s", req.Command, first.Msg)
	}
	p := &Process{
		Stdout: &outPipe{f: outR},
		Stderr: &outPipe{f: errR},
		s:      s,
		exited: make(chan struct{}),
		stdin:  stdinW,
	}
	if first.Ev == agent.EvExit { // could not be started
		p.code = first.Code
		p.finish()
		return p, nil
	}
	p.PID = first.PID
	if stdinW != nil {
		p.stdinMu.Lock() // WriteStdin waits for the initial bytes
		go func() {
			defer p.stdinMu.Unlock()
			_, _ = stdinW.Write(req.Stdin)
			if !req.OpenStdin {
				stdinW.Close()
			}
		}()
	}
	go p.watch(ctx, ch, req.Timeout)
	return p, nil
}

// Signal sends sig to the process group of pid (a pid as seen inside the
// sandbox) when pid leads a group, else to pid alone. ErrProcessNotFound
// when no such process exists (pid 1 and the agent count as absent);
// ErrNotRunning when the sandbox is gone.
func (s *Sandbox) Signal(pid int, sig syscall.Signal) error {
	if pid <= 1 {
		return ErrProcessNotFound
	}
	ch, err := s.call(&agent.Request{Op: agent.OpSignal, PID: pid, Sig: int(sig)}, nil)
	if err != nil {
		return err
	}
	m, err := s.await(ch, "a signal")
	switch {
	case err != nil:
		return err
	case m.Ev == agent.EvOK:
		return nil
	case m.NotFound:
		return ErrProcessNotFound
	default:
		return fmt.Errorf("sandbox: signal %d: %s", pid, m.Msg)
	}
}

// Process is a command started with Start.
type Process struct {
	PID    int           // pid inside the sandbox; 0 when the command could not be started
	Stdout io.ReadCloser // read end of the stdout pipe
	Stderr io.ReadCloser // read end of the stderr pipe

	s        *Sandbox
	stdin    *os.File
	stdinMu  sync.Mutex // serialises writes to stdin
	exited   chan struct{}
	code     int
	err      error
	timeout  time.Duration
	timedOut bool
}

// watch waits for the exit, killing the group on ctx or timeout.
func (p *Process) watch(ctx context.Context, ch chan *message, timeout time.Duration) {
	var tc <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	cancel := ctx.Done()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				p.code, p.err = -1, p.s.goneErr()
			} else if m.Ev != agent.EvExit {
				closeFDs(m.fds)
				continue
			} else {
				p.code = m.Code
			}
			p.finish()
			return
		case <-cancel:
			cancel = nil
			if p.err == nil && !p.timedOut {
				p.err = ctx.Err()
			}
			p.s.killGroup(p.PID)
		case <-tc:
			tc = nil
			if p.err == nil {
				p.timedOut, p.timeout = true, timeout
			}
			p.s.killGroup(p.PID)
		}
	}
}

// finish records the exit: readers drain, stdin is closed.
func (p *Process) finish() {
	now := time.Now()
	p.Stdout.(*outPipe).exited(now)
	p.Stderr.(*outPipe).exited(now)
	if p.stdin != nil {
		p.stdin.Close()
	}
	close(p.exited)
}

// Wait waits for the process to exit and returns its exit code (128+sig
// when killed by a signal). Stdout/Stderr should be drained first. The
// error wraps ErrTimeout when Timeout killed it, ctx.Err() when ctx did,
// and is ErrNotRunning, or Err of the sandbox (code -1), when the sandbox
// ended first.
func (p *Process) Wait() (int, error) {
	<-p.exited
	if p.timedOut {
		return p.code, fmt.Errorf("%w after %v", ErrTimeout, p.timeout)
	}
	if p.err != nil && !isSandboxGone(p.err) {
		return p.code, fmt.Errorf("sandbox: process killed: %w", p.err)
	}
	return p.code, p.err
}

// Kill kills the process group of p with SIGKILL. It does not wait; a
// process that already exited is not an error.
func (p *Process) Kill() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	p.s.killGroup(p.PID)
	return nil
}
