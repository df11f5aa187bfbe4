//go:build !windows

package server

import (
	"context"
	"syscall"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// The runtime seam: handlers reach sandboxes only through Runtime and
// SandboxRuntime and the request and result types below. The bubblewrap
// runtime (internal/sandbox) satisfies them through the thin adapter in
// runtime_bwrap.go; another runtime (containers, pods of a cluster running
// the same agent) would be a second adapter, with no handler changed.

// Types exchanged with a runtime. They are the bubblewrap runtime's own
// types, named here so that handlers depend on this seam only.
type (
	// SandboxSpec describes a sandbox to start.
	SandboxSpec = sandbox.Spec
	// ExecRequest is a command to run or start in a sandbox.
	ExecRequest = sandbox.ExecRequest
	// ExecResult is the outcome of a command run to completion.
	ExecResult = sandbox.ExecResult
	// Process is a started command with its pipes.
	Process = sandbox.Process
	// PTYRequest describes a shell to open on a new terminal.
	PTYRequest = sandbox.PTYRequest
	// PTY is an open terminal in a sandbox.
	PTY = sandbox.PTY
)

// Errors a runtime returns that handlers map to protocol errors.
var (
	// errSandboxNotRunning: the sandbox ended under the call.
	errSandboxNotRunning = sandbox.ErrNotRunning
	// errProcessNotFound: no such process in the sandbox.
	errProcessNotFound = sandbox.ErrProcessNotFound
	// errRunTimeout: the command outlived its timeout and was killed.
	errRunTimeout = sandbox.ErrTimeout
	// errAgentDead: the sandbox's agent died or broke the protocol; the
	// sandbox is ended (503/5001).
	errAgentDead = sandbox.ErrAgentDead
	// errAgentTimeout: the sandbox's agent stopped answering; the sandbox
	// is ended (504/5002).
	errAgentTimeout = sandbox.ErrAgentTimeout
	// errRequestTooLarge: a command too large for the agent; nothing was
	// sent (413/1006).
	errRequestTooLarge = sandbox.ErrRequestTooLarge
)

// Runtime starts sandboxes.
type Runtime interface {
	// Start starts a sandbox and returns once its agent answers.
	Start(ctx context.Context, spec SandboxSpec) (SandboxRuntime, error)
	// Close stops the runtime after every sandbox was stopped.
	Close() error
}

// SandboxRuntime is one live sandbox. A runtime that can also reach TCP
// ports inside its sandboxes implements portDialer (ports.go); without it
// the ports routes answer 501/1004.
type SandboxRuntime interface {
	// Run runs a command to completion.
	Run(ctx context.Context, req ExecRequest) (*ExecResult, error)
	// Start starts a command and returns its process and pipes.
	Start(ctx context.Context, req ExecRequest) (*Process, error)
	// Signal sends sig to the process group of pid.
	Signal(pid int, sig syscall.Signal) error
	// OpenPTY starts a shell on a new terminal.
	OpenPTY(ctx context.Context, req PTYRequest) (*PTY, error)
	// Stop ends the sandbox: SIGTERM, then SIGKILL after grace.
	Stop(grace time.Duration) error
	// Done is closed when the sandbox has ended.
	Done() <-chan struct{}
	// Err says why the sandbox ended: nil for a normal stop, else an
	// error wrapping errAgentDead or errAgentTimeout.
	Err() error
}
