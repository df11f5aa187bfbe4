// Package sandbox runs isolated sandboxes with bubblewrap, one long-lived
// agent process per sandbox, and executes commands and PTYs inside them.
//
// CONTRACT STUB: the types and method signatures below are the contract
// between the runtime (this package) and the HTTP server (internal/server).
// The runtime helper replaces the bodies; the signatures stay.
package sandbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"
)

// Errors returned by the runtime. The server maps them to protocol codes.
var (
	ErrProcessNotFound = errors.New("sandbox: process not found")   // 404/4001
	ErrTimeout         = errors.New("sandbox: process timed out")   // 504/4002
	ErrNotRunning      = errors.New("sandbox: sandbox not running") // 400/2004
	ErrBwrapMissing    = errors.New("sandbox: bwrap not found")
)

// Config configures a Manager.
type Config struct {
	BwrapPath    string       // default: "bwrap" looked up in PATH
	AgentPath    string       // executable re-executed in agent mode; default os.Executable()
	RunDir       string       // host directory for per-sandbox runtime state; required
	ShareNetwork bool         // share the host network namespace (default: own empty netns)
	TmpSize      int64        // bytes for the /tmp tmpfs; default 512 MiB
	UID, GID     int          // host uid/gid sandbox processes run as when the server is root; default 100000
	Logger       *slog.Logger // default slog.Default()
}

// Spec describes one sandbox to start.
type Spec struct {
	ID           string
	Hostname     string            // default: ID
	WorkspaceDir string            // host directory bound read-write at /workspace
	RootFS       string            // "" = host-root layout (read-only /usr etc.); else a root filesystem directory
	Env          map[string]string // environment of every process (the server includes WORKSPACE_* vars)
}

// ExecRequest is one command to run inside a sandbox. No shell: Command is argv[0].
type ExecRequest struct {
	Command string
	Args    []string
	Env     map[string]string // merged over Spec.Env
	Cwd     string            // default /workspace
	Stdin   []byte            // fed to stdin, then closed; nil = /dev/null
	Timeout time.Duration     // 0 = no limit
}

// ExecResult is the outcome of Run. A command that does not exist exits
// 127, one that cannot be executed 126 (reason on Stderr); killed by a
// signal is 128+signal.
type ExecResult struct {
	ExitCode int
	Stdout   []byte
	Stderr   []byte
}

// PTYRequest describes a PTY to open.
type PTYRequest struct {
	Cols, Rows int               // default 80x24
	Shell      string            // default /bin/bash, or /bin/sh when bash is absent
	Env        map[string]string // merged over Spec.Env; TERM defaults to xterm-256color
}

// Manager starts and tracks sandboxes. Safe for concurrent use.
type Manager struct{}

// NewManager checks that bwrap is usable and returns a Manager.
func NewManager(cfg Config) (*Manager, error) { return nil, errors.New("not implemented") }

// Start starts a sandbox and returns once its agent answers.
func (m *Manager) Start(ctx context.Context, spec Spec) (*Sandbox, error) {
	return nil, errors.New("not implemented")
}

// Close force-kills every sandbox and waits for them.
func (m *Manager) Close() error { return nil }

// Sandbox is one running sandbox. Safe for concurrent use.
type Sandbox struct{}

// Run runs a command to completion. Cancelling ctx kills its process group.
// On Timeout it kills the process group and returns the partial output
// together with an error wrapping ErrTimeout.
func (s *Sandbox) Run(ctx context.Context, req ExecRequest) (*ExecResult, error) {
	return nil, errors.New("not implemented")
}

// Start starts a command and returns at once; output flows through the
// Process pipes (back-pressure: an unread pipe blocks the process).
func (s *Sandbox) Start(ctx context.Context, req ExecRequest) (*Process, error) {
	return nil, errors.New("not implemented")
}

// Signal sends sig to the process group of pid (a pid as seen inside the
// sandbox). ErrProcessNotFound when no such process exists.
func (s *Sandbox) Signal(pid int, sig syscall.Signal) error { return errors.New("not implemented") }

// OpenPTY starts a shell on a new PTY inside the sandbox.
func (s *Sandbox) OpenPTY(ctx context.Context, req PTYRequest) (*PTY, error) {
	return nil, errors.New("not implemented")
}

// Stop ends the sandbox: SIGTERM to everything, then SIGKILL after grace
// (grace 0 = kill at once). Idempotent; returns when the sandbox is gone.
func (s *Sandbox) Stop(grace time.Duration) error { return nil }

// Done is closed when the sandbox has ended for any reason.
func (s *Sandbox) Done() <-chan struct{} { return nil }

// HostPID is the host pid of the sandbox's outermost process (for metrics).
func (s *Sandbox) HostPID() int { return 0 }

// Process is a command started with Start.
type Process struct {
	PID    int           // pid inside the sandbox
	Stdout io.ReadCloser // read end of the stdout pipe
	Stderr io.ReadCloser // read end of the stderr pipe
}

// Wait waits for the process to exit and returns its exit code (128+sig
// when killed by a signal). Stdout/Stderr should be drained first.
func (p *Process) Wait() (int, error) { return 0, errors.New("not implemented") }

// Kill kills the process group of p with SIGKILL.
func (p *Process) Kill() error { return nil }

// PTY is a shell on a pseudo-terminal inside a sandbox. Master is the PTY
// master: read output from it, write input to it.
type PTY struct {
	PID    int
	Master *os.File
}

// Resize sets the terminal size.
func (p *PTY) Resize(cols, rows int) error { return errors.New("not implemented") }

// Wait waits for the shell to exit and returns its exit code.
func (p *PTY) Wait() (int, error) { return 0, errors.New("not implemented") }

// Kill kills the shell's process group and closes the master.
func (p *PTY) Kill() error { return nil }
