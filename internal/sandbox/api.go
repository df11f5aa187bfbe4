package sandbox

import (
	"errors"
	"log/slog"
	"time"
)

// Errors returned by the runtime. The server maps them to protocol codes.
var (
	ErrProcessNotFound = errors.New("sandbox: process not found")   // 404/4001
	ErrTimeout         = errors.New("sandbox: process timed out")   // 504/4002
	ErrNotRunning      = errors.New("sandbox: sandbox not running") // 400/2004
	ErrBwrapMissing    = errors.New("sandbox: bwrap not found")
)

// Defaults.
const (
	// DefaultPath is PATH inside a sandbox unless Spec.Env or the request
	// sets it.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// DefaultHome is HOME inside a sandbox unless Spec.Env or the request
	// sets it.
	DefaultHome = "/workspace"
	// DefaultTmpSize is the default size of a sandbox's /tmp.
	DefaultTmpSize = 512 << 20
	// DefaultMaxOutput is how much of each stream Run keeps by default.
	DefaultMaxOutput = 64 << 20
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
	// MaxOutput bounds how many bytes of each stream Run keeps (the rest
	// is read and dropped, and ExecResult.Truncated is set); 0 means
	// DefaultMaxOutput. Start ignores it.
	MaxOutput int
	// OpenStdin keeps stdin open after Stdin, for Process.WriteStdin, until
	// Process.CloseStdin or the exit.
	OpenStdin bool
}

// ExecResult is the outcome of Run. A command that does not exist exits
// 127, one that cannot be executed 126 (reason on Stderr); killed by a
// signal is 128+signal. A working directory that does not exist is 126.
type ExecResult struct {
	ExitCode  int
	Stdout    []byte
	Stderr    []byte
	Truncated bool // output beyond ExecRequest.MaxOutput was dropped
}

// PTYRequest describes a PTY to open.
type PTYRequest struct {
	Cols, Rows int               // default 80x24
	Shell      string            // default /bin/bash, or /bin/sh when bash is absent
	Env        map[string]string // merged over Spec.Env; TERM defaults to xterm-256color
}
