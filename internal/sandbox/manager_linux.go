//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

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
	seccomp     []byte      // the seccomp filter (see seccomp_linux.go)
	cg          *cgroupHost // controllers for Spec.Limits

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
	if cfg.ShmSize <= 0 {
		cfg.ShmSize = DefaultShmSize
	}
	if cfg.AgentTimeout <= 0 {
		cfg.AgentTimeout = DefaultAgentTimeout
	}
	if cfg.LivenessInterval <= 0 {
		cfg.LivenessInterval = DefaultLivenessInterval
	}
	cfg.UID, cfg.GID, _ = HostOwner(cfg.UID, cfg.GID)
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
	cfg.AgentPath = src
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
		asRoot: serverIsRoot(),
		boxes:  map[*Sandbox]struct{}{},
		cg:     newCgroupHost(cfg.Logger),
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
		m.seccomp, err = seccompFilterBytes()
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

// probeTimeout bounds NewManager's trial run of the agent.
const probeTimeout = 30 * time.Second

// probe runs the agent copy once under bwrap, as the sandbox uid, and
// checks that it answers as an agent (it calls MaybeRunAgent).
func (m *Manager) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.bwrap,
		"--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0",
		"--die-with-parent", "--cap-drop", "ALL", "--clearenv", "--setenv", agent.Env, "1",
		"--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
		m.agentPath, agent.ProbeArg)
	cmd.SysProcAttr = m.sysProcAttr()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("sandbox: bwrap unusable (RunDir %s and its parents must be searchable by uid %d): %v: %s",
			m.cfg.RunDir, m.cfg.UID, err, bytes.TrimSpace(out))
	}
	if string(bytes.TrimSpace(out)) != agent.ProbeReply {
		return fmt.Errorf("sandbox: the agent executable %s does not act as this version's sandbox agent: use cmd/workspace-agent built from the same version, or a binary that calls sandbox.MaybeRunAgent first thing in main (or TestMain)", m.cfg.AgentPath)
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
	// bwrap's descriptors: ExtraFiles 3 control socket, 4 info, 5
	// options (--args), 6 seccomp filter, 7 the --block-fd pipe (limits).
	const infoFD, argsFD, seccompFD = 4, 5, 6
	opts, argv, err := m.bwrapArgs(&spec, infoFD, seccompFD)
	if err != nil {
		return nil, err
	}
	filterFile, err := dataFile("seccomp", m.seccomp)
	if err != nil {
		return nil, err
	}
	defer filterFile.Close()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, errors.New("sandbox: manager closed")
	}
	m.mu.Unlock()
	cg, err := m.newCgroup(&spec)
	if err != nil {
		return nil, err
	}
	var blockR, blockW *os.File
	if cg != nil {
		if blockR, blockW, err = os.Pipe(); err != nil {
			cg.remove()
			return nil, err
		}
		opts = append([]string{"--block-fd", strconv.Itoa(blockFD)}, opts...)
	}
	optsFile, err := dataFile("bwrap-args", []byte(strings.Join(opts, "\x00")+"\x00"))
	if err != nil {
		closeStartFiles(cg, blockR, blockW)
		return nil, err
	}
	defer optsFile.Close()

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
		closeStartFiles(cg, blockR, blockW)
		return nil, fmt.Errorf("sandbox: control socket: %w", err)
	}
	conn := c.(*net.UnixConn)
	infoR, infoW, err := os.Pipe()
	if err != nil {
		agentEnd.Close()
		conn.Close()
		closeStartFiles(cg, blockR, blockW)
		return nil, err
	}

	s := &Sandbox{
		m:        m,
		id:       spec.ID,
		conn:     conn,
		pending:  map[uint64]*pendingCall{},
		done:     make(chan struct{}),
		readerOK: make(chan struct{}),
		stderr:   &headBuffer{max: 8 << 10},
		env:      mergeEnv(map[string]string{"PATH": DefaultPath, "HOME": DefaultHome}, spec.Env),
		cg:       cg,
	}
	hello := make(chan *message, 1)
	s.pending[0] = &pendingCall{ch: hello, op: agent.OpHello}

	cmd := exec.Command(m.bwrap, "--args", strconv.Itoa(argsFD))
	cmd.Args = append(cmd.Args, argv...)
	cmd.ExtraFiles = []*os.File{agentEnd, infoW, optsFile, filterFile}
	if cg != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, blockR)
	}
	cmd.Stderr = s.stderr
	cmd.SysProcAttr = m.sysProcAttrFor(&spec)
	cmd.Env = []string{}
	err = cmd.Start()
	agentEnd.Close()
	infoW.Close()
	if err != nil {
		conn.Close()
		infoR.Close()
		closeStartFiles(cg, blockR, blockW)
		return nil, fmt.Errorf("sandbox: start bwrap: %w", err)
	}
	if blockR != nil {
		blockR.Close()
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
		if cg != nil {
			s.enterCgroup(info.ChildPID, blockW)
		}
	}()
	go s.readLoop()
	go s.waitLoop(infoDone)
	go s.livenessLoop()

	helloTimer := time.NewTimer(m.cfg.AgentTimeout)
	defer helloTimer.Stop()
	select {
	case msg, ok := <-hello:
		if ok && msg.Ev == agent.EvHello {
			s.agentPID = msg.PID
			<-infoDone
			if err := m.placeSandbox(s, &spec); err != nil {
				s.Stop(0)
				return nil, err
			}
			return s, nil
		}
	case <-ctx.Done():
		s.Stop(0)
		return nil, ctx.Err()
	case <-helloTimer.C:
		s.Stop(0)
		return nil, fmt.Errorf("%w: sandbox %s: no hello within %v: %s", ErrAgentTimeout, spec.ID, m.cfg.AgentTimeout, s.stderr.String())
	case <-s.done:
	}
	s.Stop(0)
	return nil, fmt.Errorf("sandbox: %s did not start: %s", spec.ID, s.stderr.String())
}

// dataFile returns a memfd holding b, positioned at its start,
// for bwrap to read (--args, --seccomp).
func dataFile(name string, b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sandbox: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(b)
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("sandbox: memfd: %w", err)
	}
	return f, nil
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
