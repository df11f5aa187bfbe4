// Package sandbox runs isolated sandboxes with bubblewrap, one long-lived
// agent process per sandbox, and executes commands and PTYs inside them.
//
// # Architecture
//
// Manager.Start runs one bwrap process per sandbox. Inside it runs the
// agent: the executable named by Config.AgentPath (default: the running
// executable) re-executed in agent mode, detected by an init function of
// this package (see AgentEnv and AgentArg), so any binary that imports
// this package, including test binaries, is its own agent. NewManager
// copies that executable once into Config.RunDir and bwrap binds the copy
// read-only at /.agent/agent.
//
// The server and the agent talk over a SOCK_SEQPACKET socket pair (bwrap
// passes the agent end through as descriptor 3). For each command the
// server creates the stdin/stdout/stderr pipes itself and hands the child
// ends to the agent with SCM_RIGHTS; the agent forks and executes the
// command in its own process group and reports its pid and, later, its
// exit status. Output is read straight from the pipes, so a reader that
// does not read blocks the command (back-pressure) and nothing is copied
// in between. For a PTY the agent opens /dev/ptmx inside the sandbox (a
// private devpts instance), starts the shell as a session leader with the
// slave as controlling terminal and passes the master back.
//
// # Isolation
//
// Every sandbox gets new user, pid, ipc, uts, cgroup, mount and (unless
// Config.ShareNetwork) network namespaces, all capabilities dropped, a
// cleared environment, a session of its own (no TIOCSTI into the server's
// terminal), a size-limited private /tmp, /proc and a minimal /dev, and a
// read-only root: either the host's /usr (with the merged-/usr symlinks)
// plus a short list of harmless /etc files (never shadow, gshadow,
// sudoers or private keys), or Spec.RootFS bound read-only. The root
// directory itself is a read-only tmpfs. Spec.WorkspaceDir is bound
// read-write at /workspace, which is the working directory.
//
// Processes inside run as uid 0 of the sandbox's user namespace. When the
// server runs as root, bwrap itself is started as Config.UID/Config.GID
// (default 100000), so sandbox root is that unprivileged host uid. Then:
//
//   - Spec.WorkspaceDir must be owned by (or writable for) that uid, and
//     files the server writes there should be chowned to it;
//   - Config.RunDir, Spec.WorkspaceDir, Spec.RootFS and every directory
//     above them must be searchable (x) by that uid (0711 or 0755), as
//     bwrap resolves the paths with the uid's permissions.
//
// When the server is not root, the sandbox root maps to the server's uid.
//
// Inside, the environment is PATH (/usr/local/sbin:/usr/local/bin:
// /usr/sbin:/usr/bin:/sbin:/bin) and HOME (/workspace) unless given, then
// Spec.Env, then the request's Env on top.
//
// What it does not protect against: kernel exploits (there is no seccomp
// filter), resource exhaustion other than /tmp's size (no cgroup limits on
// CPU, memory or pids), and reading what the host exposes read-only
// (/usr and the bound /etc files).
package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
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
	// DefaultUID is the host uid (and gid) sandboxes run as when the
	// server is root and Config.UID/GID are 0.
	DefaultUID = 100000
	// DefaultTmpSize is the default size of a sandbox's /tmp.
	DefaultTmpSize = 512 << 20
	// DefaultMaxOutput is how much of each stream Run keeps by default.
	DefaultMaxOutput = 64 << 20
)

// After a command exits, background processes it started may still hold
// its output pipes. Readers then see EOF once the pipe has been idle for
// drainIdle, or drainMax after the exit (data that was already in the
// pipe at exit is always delivered).
const (
	drainIdle = 100 * time.Millisecond
	drainMax  = 2 * time.Second
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

// Manager starts and tracks sandboxes. Safe for concurrent use.
type Manager struct {
	cfg       Config
	log       *slog.Logger
	bwrap     string
	agentDir  string
	agentPath string
	etcDir    string // copy of the host's harmless /etc entries
	asRoot    bool
	// agentLoader and agentLibs are the host loader and libraries of a
	// dynamically linked agent, for sandboxes with a Spec.RootFS.
	agentLoader string
	agentLibs   []libBind

	mu     sync.Mutex
	boxes  map[*Sandbox]struct{}
	closed bool
}

// NewManager checks that bwrap is usable and returns a Manager. It copies
// the agent executable into a fresh directory under cfg.RunDir (created
// 0755 when missing; search permission for group and others is added to
// an existing one) and runs it once in a throw-away sandbox, so a RunDir
// whose parents the sandbox uid cannot search fails here. It returns an error wrapping
// ErrBwrapMissing when bwrap cannot be found.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.RunDir == "" {
		return nil, errors.New("sandbox: Config.RunDir is required")
	}
	if cfg.TmpSize <= 0 {
		cfg.TmpSize = DefaultTmpSize
	}
	if cfg.UID == 0 {
		cfg.UID = DefaultUID
	}
	if cfg.GID == 0 {
		cfg.GID = DefaultUID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	bw := cfg.BwrapPath
	if bw == "" {
		bw = "bwrap"
	}
	bwPath, err := exec.LookPath(bw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBwrapMissing, err)
	}
	src := cfg.AgentPath
	if src == "" {
		if src, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("sandbox: agent executable: %w", err)
		}
	}
	runDir, err := filepath.Abs(cfg.RunDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: run dir: %w", err)
	}
	// The sandbox uid must be able to search RunDir (its parents are the
	// caller's business).
	if fi, err := os.Stat(runDir); err != nil {
		return nil, fmt.Errorf("sandbox: run dir: %w", err)
	} else if perm := fi.Mode().Perm(); perm&0o011 != 0o011 {
		if err := os.Chmod(runDir, perm|0o011); err != nil {
			return nil, fmt.Errorf("sandbox: run dir: %w", err)
		}
	}
	dir, err := os.MkdirTemp(runDir, "agent-")
	if err != nil {
		return nil, fmt.Errorf("sandbox: run dir: %w", err)
	}
	m := &Manager{
		cfg: cfg, log: cfg.Logger, bwrap: bwPath,
		agentDir: dir, agentPath: filepath.Join(dir, "agent"), etcDir: filepath.Join(dir, "etc"),
		asRoot: os.Geteuid() == 0,
		boxes:  map[*Sandbox]struct{}{},
	}
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = copyFile(src, m.agentPath)
	}
	if err == nil {
		m.agentLoader, m.agentLibs, err = agentDeps(m.agentPath)
	}
	if err == nil {
		err = copyEtc(m.etcDir)
	}
	if err == nil {
		err = m.probe()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return m, nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("sandbox: agent executable: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("sandbox: agent copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("sandbox: agent copy: %w", err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, 0o755)
}

func (m *Manager) sysProcAttr() *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if m.asRoot {
		a.Credential = &syscall.Credential{Uid: uint32(m.cfg.UID), Gid: uint32(m.cfg.GID)}
	}
	return a
}

// probe runs the agent copy once under bwrap, as the sandbox uid.
func (m *Manager) probe() error {
	cmd := exec.Command(m.bwrap,
		"--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0",
		"--die-with-parent", "--cap-drop", "ALL", "--clearenv", "--setenv", AgentEnv, "1",
		"--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
		m.agentPath, probeArg)
	cmd.SysProcAttr = m.sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sandbox: bwrap unusable (RunDir %s and its parents must be searchable by uid %d): %v: %s",
			m.cfg.RunDir, m.cfg.UID, err, bytes.TrimSpace(out))
	}
	return nil
}

// Start starts a sandbox and returns once its agent answers. The
// sandbox lives until Stop, Manager.Close, or the agent's death; ctx only
// bounds the start itself. Errors carry bwrap's own message.
func (m *Manager) Start(ctx context.Context, spec Spec) (*Sandbox, error) {
	if spec.ID == "" {
		return nil, errors.New("sandbox: Spec.ID is required")
	}
	if st, err := os.Stat(spec.WorkspaceDir); err != nil {
		return nil, fmt.Errorf("sandbox: workspace dir: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("sandbox: workspace dir %s is not a directory", spec.WorkspaceDir)
	}
	const infoFD = 4 // ExtraFiles[1]
	args, err := m.bwrapArgs(&spec, infoFD)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("sandbox: manager closed")
	}
	m.mu.Unlock()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("sandbox: socketpair: %w", err)
	}
	agentEnd := os.NewFile(uintptr(fds[1]), "agent-ctl")
	srvFile := os.NewFile(uintptr(fds[0]), "ctl")
	c, err := net.FileConn(srvFile)
	srvFile.Close()
	if err != nil {
		agentEnd.Close()
		return nil, fmt.Errorf("sandbox: control socket: %w", err)
	}
	conn := c.(*net.UnixConn)
	infoR, infoW, err := os.Pipe()
	if err != nil {
		agentEnd.Close()
		conn.Close()
		return nil, err
	}

	s := &Sandbox{
		m:        m,
		id:       spec.ID,
		conn:     conn,
		pending:  map[uint64]chan *message{},
		done:     make(chan struct{}),
		readerOK: make(chan struct{}),
		stderr:   &headBuffer{max: 8 << 10},
		env:      mergeEnv(map[string]string{"PATH": DefaultPath, "HOME": DefaultHome}, spec.Env),
	}
	hello := make(chan *message, 1)
	s.pending[0] = hello

	cmd := exec.Command(m.bwrap, args...)
	cmd.ExtraFiles = []*os.File{agentEnd, infoW}
	cmd.Stderr = s.stderr
	cmd.SysProcAttr = m.sysProcAttr()
	cmd.Env = []string{}
	err = cmd.Start()
	agentEnd.Close()
	infoW.Close()
	if err != nil {
		conn.Close()
		infoR.Close()
		return nil, fmt.Errorf("sandbox: start bwrap: %w", err)
	}
	s.cmd = cmd
	m.mu.Lock()
	m.boxes[s] = struct{}{}
	m.mu.Unlock()

	infoDone := make(chan struct{})
	go func() {
		defer close(infoDone)
		defer infoR.Close()
		var info struct {
			ChildPID int `json:"child-pid"`
		}
		if json.NewDecoder(infoR).Decode(&info) == nil && info.ChildPID > 0 {
			s.childPID.Store(int64(info.ChildPID))
			if fd, err := unix.PidfdOpen(info.ChildPID, 0); err == nil {
				s.pidMu.Lock()
				s.pidfd = fd
				s.pidMu.Unlock()
			}
		}
	}()
	go s.readLoop()
	go s.waitLoop(infoDone)

	select {
	case msg, ok := <-hello:
		if ok && msg.Ev == evHello {
			s.agentPID = msg.PID
			<-infoDone
			return s, nil
		}
	case <-ctx.Done():
		s.Stop(0)
		return nil, ctx.Err()
	case <-s.done:
	}
	s.Stop(0)
	return nil, fmt.Errorf("sandbox: %s did not start: %s", spec.ID, s.stderr.String())
}

// Close force-kills every sandbox and waits for them, then removes the
// agent copy. Start fails afterwards.
func (m *Manager) Close() error {
	m.mu.Lock()
	m.closed = true
	boxes := make([]*Sandbox, 0, len(m.boxes))
	for s := range m.boxes {
		boxes = append(boxes, s)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range boxes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Stop(0)
		}()
	}
	wg.Wait()
	return os.RemoveAll(m.agentDir)
}

// Owner returns the host uid and gid that sandbox processes run as, and
// whether the server must chown what it puts into a workspace to them
// (true when the server runs as root). A workspace directory must be owned
// by (or writable for) this uid; its parents must be searchable by it.
func (m *Manager) Owner() (uid, gid int, chown bool) {
	if !m.asRoot {
		return os.Geteuid(), os.Getegid(), false
	}
	return m.cfg.UID, m.cfg.GID, true
}

// Sandbox is one running sandbox. Safe for concurrent use.
type Sandbox struct {
	m        *Manager
	id       string
	env      map[string]string
	cmd      *exec.Cmd
	conn     *net.UnixConn
	sendMu   sync.Mutex
	agentPID int
	childPID atomic.Int64 // host pid of bwrap's pid 1 inside the namespace
	pidMu    sync.Mutex
	pidfd    int // pidfd of childPID, 0 when unknown or closed
	stderr   *headBuffer

	mu      sync.Mutex
	pending map[uint64]chan *message
	dead    bool
	nextID  atomic.Uint64

	done     chan struct{}
	readerOK chan struct{}
}

// readLoop dispatches agent messages to the waiting calls.
func (s *Sandbox) readLoop() {
	defer close(s.readerOK)
	buf := make([]byte, maxPacket)
	oob := make([]byte, oobSpace)
	for {
		b, fds, err := readPacket(s.conn, buf, oob)
		if err != nil {
			s.markDead()
			return
		}
		msg := new(message)
		if json.Unmarshal(b, msg) != nil {
			closeFDs(fds)
			continue
		}
		msg.fds = fds
		s.mu.Lock()
		ch := s.pending[msg.ID]
		if ch != nil && msg.Ev != evStarted {
			delete(s.pending, msg.ID)
		}
		s.mu.Unlock()
		if ch == nil {
			closeFDs(fds)
			continue
		}
		select {
		case ch <- msg:
		default: // a confused agent; never block the loop
			closeFDs(fds)
		}
	}
}

// markDead fails every pending call.
func (s *Sandbox) markDead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	s.dead = true
	for id, ch := range s.pending {
		close(ch)
		delete(s.pending, id)
	}
}

// waitLoop waits for bwrap and the whole pid namespace to be gone.
func (s *Sandbox) waitLoop(infoDone chan struct{}) {
	err := s.cmd.Wait()
	<-infoDone
	s.pidMu.Lock()
	pidfd := s.pidfd
	s.pidMu.Unlock()
	if pidfd > 0 {
		// bwrap's pid 1 can outlive the outer bwrap briefly (it dies
		// from its parent-death signal); it exits only once every
		// process of the namespace is gone.
		pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
				break
			}
		}
		s.pidMu.Lock()
		unix.Close(pidfd)
		s.pidfd = 0
		s.pidMu.Unlock()
	}
	s.conn.Close()
	<-s.readerOK
	s.markDead()
	s.m.mu.Lock()
	delete(s.m.boxes, s)
	s.m.mu.Unlock()
	s.m.log.Debug("sandbox ended", "id", s.id, "err", err)
	close(s.done)
}

// call sends a request and returns the channel its answers arrive on;
// the channel is closed when the sandbox dies.
func (s *Sandbox) call(r *request, fds []int) (chan *message, error) {
	r.ID = s.nextID.Add(1)
	ch := make(chan *message, 4)
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, ErrNotRunning
	}
	s.pending[r.ID] = ch
	s.mu.Unlock()
	s.sendMu.Lock()
	err := sendRequest(s.conn, r, fds)
	s.sendMu.Unlock()
	if err != nil {
		s.mu.Lock()
		delete(s.pending, r.ID)
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return ch, nil
}

// killGroup sends SIGKILL to the process group pgid and returns once the
// agent has sent it.
func (s *Sandbox) killGroup(pgid int) {
	if pgid > 1 {
		if ch, err := s.call(&request{Op: opKillGroup, PID: pgid, Sig: int(syscall.SIGKILL)}, nil); err == nil {
			<-ch
		}
	}
}

func mergeEnv(layers ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, l := range layers {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

func envList(env map[string]string) []string {
	l := make([]string, 0, len(env))
	for k, v := range env {
		if k == "" || k == AgentEnv {
			continue
		}
		l = append(l, k+"="+v)
	}
	sort.Strings(l)
	return l
}

// Run runs a command to completion. Cancelling ctx kills its process group
// and returns the partial output with an error wrapping ctx.Err(). On
// Timeout it kills the process group and returns the partial output
// together with an error wrapping ErrTimeout. ErrNotRunning when the
// sandbox is gone.
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
	go func() { defer wg.Done(); io.CopyBuffer(outBuf, p.Stdout, make([]byte, 64<<10)) }()
	go func() { defer wg.Done(); io.CopyBuffer(errBuf, p.Stderr, make([]byte, 16<<10)) }()
	wg.Wait()
	p.Stdout.Close()
	p.Stderr.Close()
	code, werr := p.Wait()
	if errors.Is(werr, ErrNotRunning) {
		return nil, werr
	}
	return &ExecResult{
		ExitCode:  code,
		Stdout:    outBuf.buf.Bytes(),
		Stderr:    errBuf.buf.Bytes(),
		Truncated: outBuf.dropped || errBuf.dropped,
	}, werr
}

// outPipeSize is the capacity asked for output pipes (the default is 64
// KiB): a command writing fast fills it while the server is busy, and the
// server then reads it in big chunks, with fewer wake-ups on both sides.
// The kernel allocates the pages only as data is queued.
const outPipeSize = 1 << 20

// newPipe returns a pipe whose parent end (read end when forRead) is
// non-blocking and pollable, and whose child end stays blocking. Output
// pipes (forRead) get outPipeSize when the server is privileged; the
// kernel caps unprivileged users' pipe memory (fs.pipe-user-pages-soft)
// and, once over it, shrinks every new pipe of that user, so they keep
// the default. A refused size is ignored.
func (m *Manager) newPipe(forRead bool) (parent *os.File, child int, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, -1, err
	}
	if forRead && m.asRoot {
		_, _ = unix.FcntlInt(uintptr(p[0]), unix.F_SETPIPE_SZ, outPipeSize)
	}
	pi, ci := p[0], p[1]
	if !forRead {
		pi, ci = p[1], p[0]
	}
	if err := unix.SetNonblock(pi, true); err != nil {
		unix.Close(pi)
		unix.Close(ci)
		return nil, -1, err
	}
	return os.NewFile(uintptr(pi), "pipe"), ci, nil
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
	r := &request{
		Op:    opExec,
		Path:  req.Command,
		Args:  append([]string{req.Command}, req.Args...),
		Env:   envList(mergeEnv(s.env, req.Env)),
		Cwd:   cwd,
		Stdin: req.Stdin != nil,
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
	if req.Stdin != nil {
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
	first, ok := <-ch
	if !ok {
		cleanup()
		return nil, ErrNotRunning
	}
	if first.Ev == evError {
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
	if first.Ev == evExit { // could not be started
		p.code = first.Code
		p.finish()
		return p, nil
	}
	p.PID = first.PID
	if stdinW != nil {
		go func() {
			_, _ = stdinW.Write(req.Stdin)
			stdinW.Close()
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
	ch, err := s.call(&request{Op: opSignal, PID: pid, Sig: int(sig)}, nil)
	if err != nil {
		return err
	}
	m, ok := <-ch
	switch {
	case !ok:
		return ErrNotRunning
	case m.Ev == evOK:
		return nil
	case m.NotFound:
		return ErrProcessNotFound
	default:
		return fmt.Errorf("sandbox: signal %d: %s", pid, m.Msg)
	}
}

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
	ch, err := s.call(&request{
		Op: opPTY, Path: req.Shell, Env: envList(env), Cwd: "/workspace",
		Cols: req.Cols, Rows: req.Rows,
	}, nil)
	if err != nil {
		return nil, err
	}
	first, ok := <-ch
	if !ok {
		return nil, ErrNotRunning
	}
	if first.Ev != evStarted || len(first.fds) != 1 {
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
			p.code, p.err = -1, ErrNotRunning
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
func (s *Sandbox) Stop(grace time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	if grace > 0 {
		if _, err := s.call(&request{Op: opTerminate}, nil); err == nil {
			t := time.NewTimer(grace)
			select {
			case <-s.done:
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
	s.pidMu.Lock()
	if s.pidfd > 0 {
		_ = unix.PidfdSendSignal(s.pidfd, unix.SIGKILL, nil, 0)
	}
	s.pidMu.Unlock()
	_ = s.cmd.Process.Kill()
	<-s.done
	return nil
}

// Done is closed when the sandbox has ended for any reason.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// HostPID is the host pid of the sandbox's outermost process (for metrics).
func (s *Sandbox) HostPID() int { return s.cmd.Process.Pid }

// ID is the sandbox id from Spec.ID.
func (s *Sandbox) ID() string { return s.id }

// Process is a command started with Start.
type Process struct {
	PID    int           // pid inside the sandbox; 0 when the command could not be started
	Stdout io.ReadCloser // read end of the stdout pipe
	Stderr io.ReadCloser // read end of the stderr pipe

	s        *Sandbox
	stdin    *os.File
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
				p.code, p.err = -1, ErrNotRunning
			} else if m.Ev != evExit {
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
// and is ErrNotRunning (code -1) when the sandbox died first.
func (p *Process) Wait() (int, error) {
	<-p.exited
	if p.timedOut {
		return p.code, fmt.Errorf("%w after %v", ErrTimeout, p.timeout)
	}
	if p.err != nil && !errors.Is(p.err, ErrNotRunning) {
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

// outPipe is the server's read end of a command's output pipe. After the
// command exits it delivers what was already in the pipe, then reports EOF
// when the pipe stays idle for drainIdle or drainMax has passed, even if a
// background process still holds the write end.
type outPipe struct {
	f *os.File

	mu       sync.Mutex
	done     bool
	exitedAt time.Time
	owed     int // bytes that were in the pipe at exit and not yet read
}

func (o *outPipe) exited(at time.Time) {
	owed := 0
	if rc, err := o.f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			owed, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ)
		})
	}
	o.mu.Lock()
	o.done, o.exitedAt, o.owed = true, at, owed
	o.mu.Unlock()
	_ = o.f.SetReadDeadline(at.Add(drainIdle))
}

// Read implements io.Reader.
func (o *outPipe) Read(p []byte) (int, error) {
	for {
		o.mu.Lock()
		done, owed, at := o.done, o.owed, o.exitedAt
		o.mu.Unlock()
		if done {
			switch {
			case owed > 0:
				if len(p) > owed {
					p = p[:owed]
				}
				_ = o.f.SetReadDeadline(time.Time{})
			case time.Since(at) >= drainMax:
				return 0, io.EOF
			default:
				_ = o.f.SetReadDeadline(time.Now().Add(drainIdle))
			}
		}
		n, err := o.f.Read(p)
		if done && n > 0 {
			o.mu.Lock()
			o.owed -= n
			o.mu.Unlock()
		}
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			if n > 0 {
				return n, nil
			}
			o.mu.Lock()
			d, ow := o.done, o.owed
			o.mu.Unlock()
			if d && ow <= 0 {
				return 0, io.EOF
			}
			continue
		}
		return n, err
	}
}

// Close closes the read end.
func (o *outPipe) Close() error { return o.f.Close() }

// capBuffer keeps the first max bytes written to it and drops the rest.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.dropped = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// headBuffer keeps the first max bytes written to it; safe for concurrent use.
type headBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - h.buf.Len(); room > 0 {
		if len(p) > room {
			h.buf.Write(p[:room])
		} else {
			h.buf.Write(p)
		}
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(bytes.TrimSpace(h.buf.Bytes()))
}
