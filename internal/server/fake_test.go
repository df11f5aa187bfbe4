//go:build !windows

package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// fakeRuntime stands in for bubblewrap in handler tests. Commands:
// "echo" prints its args; "sleep" waits until ctx or the timeout ends,
// printing "partial" first; "fail" exits 3 with stderr.
type fakeRuntime struct {
	mu       sync.Mutex
	started  []sandbox.Spec
	failNext error
}

func (f *fakeRuntime) Start(ctx context.Context, spec sandbox.Spec) (SandboxRuntime, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failNext; err != nil {
		f.failNext = nil
		return nil, err
	}
	f.started = append(f.started, spec)
	return &fakeSandbox{spec: spec, done: make(chan struct{})}, nil
}

func (f *fakeRuntime) Close() error { return nil }

type fakeSandbox struct {
	spec sandbox.Spec
	once sync.Once
	done chan struct{}
}

func (s *fakeSandbox) Run(ctx context.Context, req sandbox.ExecRequest) (*sandbox.ExecResult, error) {
	switch req.Command {
	case "echo":
		return &sandbox.ExecResult{Stdout: []byte(strings.Join(req.Args, " ") + "\n")}, nil
	case "cat":
		return &sandbox.ExecResult{Stdout: req.Stdin}, nil
	case "env":
		return &sandbox.ExecResult{Stdout: []byte(s.spec.Env[req.Args[0]] + "|" + req.Env[req.Args[0]])}, nil
	case "bytes":
		return &sandbox.ExecResult{Stdout: []byte{0xff, 'a', 0xfe}}, nil
	case "fail":
		return &sandbox.ExecResult{ExitCode: 3, Stderr: []byte("boom")}, nil
	case "sleep":
		var tc <-chan time.Time
		if req.Timeout > 0 {
			tc = time.After(req.Timeout)
		}
		select {
		case <-tc:
			return &sandbox.ExecResult{ExitCode: 137, Stdout: []byte("partial")}, sandbox.ErrTimeout
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			return nil, sandbox.ErrNotRunning
		}
	}
	return &sandbox.ExecResult{ExitCode: 127, Stderr: []byte(req.Command + ": not found")}, nil
}

func (s *fakeSandbox) Start(ctx context.Context, req sandbox.ExecRequest) (*sandbox.Process, error) {
	return nil, errors.New("fake: not supported")
}

func (s *fakeSandbox) Signal(pid int, sig syscall.Signal) error {
	if pid == 1 {
		return nil
	}
	return sandbox.ErrProcessNotFound
}

func (s *fakeSandbox) OpenPTY(ctx context.Context, req sandbox.PTYRequest) (*sandbox.PTY, error) {
	return nil, errors.New("fake: not supported")
}

func (s *fakeSandbox) Stop(grace time.Duration) error {
	s.once.Do(func() { close(s.done) })
	return nil
}

func (s *fakeSandbox) Done() <-chan struct{} { return s.done }

func (s *fakeSandbox) Err() error { return nil }
