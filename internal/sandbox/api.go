package sandbox

import (
	"errors"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"log/slog"
	"time"
)

// Errors returned by the runtime. The server maps them to protocol codes.
var (
	ErrProcessNotFound = errors.New("sandbox: process not found")   // 404/4001
	ErrTimeout         = errors.New("sandbox: process timed out")   // 504/4002
	ErrNotRunning      = errors.New("sandbox: sandbox not running") // 400/2004
	ErrBwrapMissing    = errors.New("sandbox: bwrap not found")
	// ErrAgentDead: the sandbox's agent died or broke the control
	// protocol (a malformed, oversized or unexpected reply, or
	// descriptors where none belong). The sandbox is ended and Err
	// returns an error wrapping it. The server answers 503/5001.
	ErrAgentDead = errors.New("sandbox: agent dead")
	// ErrAgentTimeout: the sandbox's agent did not answer in time
	// (Config.AgentTimeout), e.g. it was stopped. The sandbox is ended
	// and Err returns an error wrapping it. The server answers 504/5002.
	ErrAgentTimeout = errors.New("sandbox: agent did not answer in time")
	// ErrRequestTooLarge: a command's arguments and environment exceed
	// MaxRequestSize; nothing was sent to the agent.
	ErrRequestTooLarge = errors.New("sandbox: request too large")
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
	// DefaultShmSize is the default size of a sandbox's /dev/shm.
	DefaultShmSize = 64 << 20
	// DefaultMaxOutput is how much of each stream Run keeps by default.
	DefaultMaxOutput = 16 << 20
	// DefaultAgentTimeout is how long the agent has to answer a request
	// or a liveness check by default.
	DefaultAgentTimeout = 10 * time.Second
	// DefaultLivenessInterval is how often, by default, a sandbox with
	// commands or PTYs in flight checks that its agent still answers.
	DefaultLivenessInterval = 5 * time.Second
	// MaxRequestSize bounds the encoded size of one request to the
	// agent (command, arguments, environment); larger ones fail with
	// ErrRequestTooLarge before anything is sent. Linux itself refuses
	// to execute a command whose arguments and environment exceed a few
	// MiB.
	MaxRequestSize = agent.MaxRequestSize
)

// Config configures a Manager.
type Config struct {
	BwrapPath    string // default: "bwrap" looked up in PATH
	AgentPath    string // executable re-executed in agent mode; default os.Executable()
	RunDir       string // host directory for per-sandbox runtime state; required
	ShareNetwork bool   // share the host network namespace (default: own empty netns)
	TmpSize      int64  // bytes for the /tmp tmpfs; default 512 MiB
	ShmSize      int64  // bytes for the /dev/shm tmpfs; default 64 MiB
	// AgentTimeout bounds every wait for an agent's answer (a started
	// command, a signal, a PTY, a liveness check); past it the sandbox
	// ends with ErrAgentTimeout. Default DefaultAgentTimeout.
	AgentTimeout time.Duration
	// LivenessInterval is how often a sandbox with commands or PTYs in
	// flight checks its agent; default DefaultLivenessInterval.
	LivenessInterval time.Duration
	UID, GID         int          // host uid/gid sandbox processes run as when the server is root; default 100000
	Logger           *slog.Logger // default slog.Default()
}

// Spec describes one sandbox to start.
type Spec struct {
	ID           string
	Hostname     string            // default: ID
	WorkspaceDir string            // host directory bound read-write at /workspace
	RootFS       string            // "" = host-root layout (read-only /usr etc.); else a root filesystem directory
	Env          map[string]string // environment of every process (the server includes WORKSPACE_* vars)
	Limits       Limits            // cgroup limits; zero = none (ErrLimitsUnsupported when not enforceable)
	UID, GID     int               // host ids when the server is root (one per workspace); 0 = Config.UID/GID
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
	// is read and dropped while the command keeps running, and
	// ExecResult.StdoutTruncated or StderrTruncated is set); 0 means
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
	ExitCode        int
	Stdout          []byte
	Stderr          []byte
	StdoutTruncated bool // stdout beyond ExecRequest.MaxOutput was dropped
	StderrTruncated bool // stderr beyond ExecRequest.MaxOutput was dropped
}

// PTYRequest describes a PTY to open.
type PTYRequest struct {
	Cols, Rows int               // default 80x24
	Shell      string            // default /bin/bash, or /bin/sh when bash is absent
	Env        map[string]string // merged over Spec.Env; TERM defaults to xterm-256color
}
