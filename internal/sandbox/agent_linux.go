//go:build linux

package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Agent mode. The Manager starts bwrap with argv
// [agentInSandbox, AgentArg] and the environment variable AgentEnv=1
// (nothing else: bwrap runs with --clearenv). A binary used as the agent
// (Config.AgentPath, by default the server's own executable) calls
// MaybeRunAgent first thing in main (or TestMain), which then runs the
// agent and exits. The control socket is descriptor 3.
const (
	// AgentEnv is the environment variable (value "1") that, together
	// with AgentArg as the only argument, puts a binary calling
	// MaybeRunAgent into agent mode. It never reaches sandboxed commands.
	AgentEnv = "_WORKSPACE_SANDBOX_AGENT"
	// AgentArg is the single command-line argument of agent mode.
	AgentArg = "workspace-sandbox-agent"
	// probeArg makes the binary print probeReply and exit 0 at once
	// (used by NewManager to check that the agent binary calls
	// MaybeRunAgent).
	probeArg   = "workspace-sandbox-probe"
	probeReply = "workspace-sandbox-agent ok"

	agentInSandbox = "/.agent/agent"
	agentCtlFD     = 3
	agentGCPercent = 20 // heap goal at least 800 KiB instead of 4 MiB
	// agentIdleTrim is how long the agent waits without a request
	// before it trims its memory again (see trimMemory).
	agentIdleTrim = time.Second
)

// MaybeRunAgent runs the sandbox agent and exits when this process was
// started as one by a Manager (argv [path, AgentArg] and AgentEnv=1), and
// returns at once otherwise. Every executable a Manager uses as its agent
// (Config.AgentPath, by default the running executable) must call it
// first thing in main, or in TestMain for a test binary that starts
// sandboxes, before flags are parsed or anything else starts. NewManager
// checks this and fails when the agent binary does not call it.
func MaybeRunAgent() {
	if len(os.Args) != 2 || os.Getenv(AgentEnv) != "1" {
		return
	}
	switch os.Args[1] {
	case probeArg:
		fmt.Println(probeReply)
		os.Exit(0)
	case AgentArg:
		// The Manager also sets GOMAXPROCS=1 (read by the runtime
		// before any init: one P, few threads); commands get the
		// environment of their request only, but clear both anyway.
		os.Unsetenv(AgentEnv)
		os.Unsetenv("GOMAXPROCS")
		// A small heap goal: the agent's live heap is a few KiB and
		// the default lets it grow to 4 MiB between collections.
		debug.SetGCPercent(agentGCPercent)
		os.Exit(runAgent())
	}
}

type agent struct {
	conn    *net.UnixConn
	sendMu  sync.Mutex
	devNull *os.File

	mu          sync.Mutex // held across fork+register and across reaping
	procs       map[int]uint64
	terminating bool
}

func runAgent() int {
	// Not dumpable: code the agent runs (same uid inside the user
	// namespace) cannot ptrace it, take its descriptors (pidfd_getfd,
	// /proc/1/fd) or read its memory. Commands are dumpable again after
	// their exec.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox agent: PR_SET_DUMPABLE:", err)
		return 2
	}
	// A fresh, empty session keyring instead of the server's, inherited
	// by every command. NULL name: an anonymous keyring nobody else can
	// join. This is the second line: the seccomp filter refuses every
	// other keyring call, so the server's keyring is out of reach even
	// when the kernel's key quota of the sandbox uid refuses a new one.
	_, _, _ = unix.RawSyscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
	// Nothing but the control socket may leak into commands: mark every
	// other inherited descriptor close-on-exec.
	_ = unix.CloseRange(agentCtlFD+1, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	f := os.NewFile(agentCtlFD, "ctl")
	c, err := net.FileConn(f) // dups with FD_CLOEXEC
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox agent:", err)
		return 2
	}
	conn, ok := c.(*net.UnixConn)
	if !ok {
		fmt.Fprintln(os.Stderr, "sandbox agent: control fd is not a unix socket")
		return 2
	}
	devNull, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox agent:", err)
		return 2
	}
	a := &agent{conn: conn, devNull: devNull, procs: map[int]uint64{}}

	// The agent is pid 1 of the sandbox's pid namespace (bwrap
	// --as-pid-1): orphans of commands are reparented to it, it reaps
	// them and knows when nothing is left. The kernel never delivers
	// SIGKILL or SIGSTOP from inside the namespace to its pid 1, and
	// other signals only when pid 1 handles them: handle every one (so
	// that none takes the Go runtime down) and drop them. Handled
	// signals, unlike ignored ones, are reset to default in executed
	// commands.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	chld := make(chan os.Signal, 16)
	signal.Notify(chld, syscall.SIGCHLD)
	other := make(chan os.Signal, 16)
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if sig != syscall.SIGCHLD && sig != syscall.SIGKILL && sig != syscall.SIGSTOP {
			signal.Notify(other, sig)
		}
	}
	go func() {
		for range other {
		}
	}()
	go func() {
		for range chld {
			a.reap()
		}
	}()

	a.send(&message{Ev: evHello, PID: os.Getpid()}, nil)
	trimMemory(false)
	buf := make([]byte, maxPacket)
	oob := make([]byte, oobSpace)
	trimmed := true
	for {
		if !trimmed {
			_ = conn.SetReadDeadline(time.Now().Add(agentIdleTrim))
		}
		b, fds, err := readPacket(conn, buf, oob)
		if err != nil && !trimmed && errors.Is(err, os.ErrDeadlineExceeded) {
			// Idle: give back what the last requests faulted in.
			trimMemory(true)
			trimmed = true
			_ = conn.SetReadDeadline(time.Time{})
			continue
		}
		trimmed = false
		if err != nil {
			// The server is gone: take everything down with us.
			_ = unix.Kill(-1, syscall.SIGKILL)
			return 0
		}
		r, fds, err := decodeRequest(b, fds)
		if err != nil {
			closeFDs(fds)
			if r != nil {
				// Never drop a request silently: the caller waits.
				a.send(&message{ID: r.ID, Ev: evError, Msg: "bad request: " + err.Error()}, nil)
			}
			continue
		}
		a.handle(r, fds)
	}
}

func (a *agent) send(m *message, fds []int) {
	b, _ := json.Marshal(m)
	a.sendMu.Lock()
	_ = sendPacket(a.conn, b, fds)
	a.sendMu.Unlock()
}

func (a *agent) handle(r *request, fds []int) {
	switch r.Op {
	case opExec:
		a.exec(r, fds)
	case opPTY:
		closeFDs(fds)
		a.pty(r)
	case opSignal:
		closeFDs(fds)
		a.signal(r)
	case opDial:
		closeFDs(fds)
		go a.dial(r)
	case opKillGroup:
		closeFDs(fds)
		if r.PID > 1 && r.PID != os.Getpid() {
			_ = unix.Kill(-r.PID, syscall.Signal(r.Sig))
		}
		a.send(&message{ID: r.ID, Ev: evOK}, nil)
	case opPing:
		closeFDs(fds)
		a.send(&message{ID: r.ID, Ev: evOK}, nil)
	case opTerminate:
		closeFDs(fds)
		a.mu.Lock()
		a.terminating = true
		a.mu.Unlock()
		_ = unix.Kill(-1, syscall.SIGTERM)
		a.reap()
	default:
		closeFDs(fds)
		a.send(&message{ID: r.ID, Ev: evError, Msg: "unknown op " + r.Op}, nil)
	}
}

func (a *agent) signal(r *request) {
	pid := r.PID
	if pid <= 1 || pid == os.Getpid() {
		a.send(&message{ID: r.ID, Ev: evError, NotFound: true, Msg: "no such process"}, nil)
		return
	}
	target := pid
	if pgid, err := unix.Getpgid(pid); err != nil {
		a.send(&message{ID: r.ID, Ev: evError, NotFound: true, Msg: "no such process"}, nil)
		return
	} else if pgid == pid {
		target = -pid
	}
	if err := unix.Kill(target, syscall.Signal(r.Sig)); err != nil {
		a.send(&message{ID: r.ID, Ev: evError, NotFound: err == unix.ESRCH, Msg: err.Error()}, nil)
		return
	}
	a.send(&message{ID: r.ID, Ev: evOK}, nil)
}

// envLookup returns the value of key in a KEY=VALUE list.
func envLookup(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// resolve finds the executable for name like a shell does and returns the
// exit code and reason when it cannot be run.
func resolve(name, cwd string, env []string) (string, int, string) {
	if name == "" {
		return "", 127, ": command not found"
	}
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		if code, why := checkExec(p); code != 0 {
			return "", code, name + ": " + why
		}
		return name, 0, ""
	}
	denied := ""
	for _, dir := range filepath.SplitList(envLookup(env, "PATH")) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if !filepath.IsAbs(p) {
			p = filepath.Join(cwd, p)
		}
		code, _ := checkExec(p)
		if code == 0 {
			return filepath.Join(dir, name), 0, ""
		}
		if code == 126 && denied == "" {
			denied = p
		}
	}
	if denied != "" {
		return "", 126, name + ": Permission denied"
	}
	return "", 127, name + ": command not found"
}

func checkExec(p string) (int, string) {
	st, err := os.Stat(p)
	if err != nil {
		if os.IsNotExist(err) || errorsIsErrno(err, unix.ENOTDIR) {
			return 127, "No such file or directory"
		}
		return 126, errText(err)
	}
	if st.IsDir() {
		return 126, "Is a directory"
	}
	if err := unix.Access(p, unix.X_OK); err != nil || st.Mode()&0o111 == 0 {
		return 126, "Permission denied"
	}
	return 0, ""
}

func errorsIsErrno(err error, e unix.Errno) bool {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err == e
	}
	return false
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	s := err.Error()
	if s != "" {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}

func (a *agent) exec(r *request, fds []int) {
	defer closeFDs(fds)
	want := 2
	if r.Stdin {
		want = 3
	}
	if len(fds) != want {
		a.send(&message{ID: r.ID, Ev: evError, Msg: "bad descriptors"}, nil)
		return
	}
	stdin := int(a.devNull.Fd())
	if r.Stdin {
		stdin = fds[0]
	}
	stdout, stderr := fds[len(fds)-2], fds[len(fds)-1]
	fail := func(code int, why string) {
		_, _ = unix.Write(stderr, []byte(why+"\n"))
		a.send(&message{ID: r.ID, Ev: evExit, Code: code}, nil)
	}
	if st, err := os.Stat(r.Cwd); err != nil || !st.IsDir() {
		why := "Not a directory"
		if err != nil {
			why = errText(err)
		}
		fail(126, "cwd "+r.Cwd+": "+why)
		return
	}
	path, code, why := resolve(r.Path, r.Cwd, r.Env)
	if code != 0 {
		fail(code, why)
		return
	}
	attr := &syscall.ProcAttr{
		Dir:   r.Cwd,
		Env:   r.Env,
		Files: []uintptr{uintptr(stdin), uintptr(stdout), uintptr(stderr)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	a.start(r.ID, path, r.Args, attr, nil, func(err error) {
		c := 126
		if err == unix.ENOENT || err == unix.ENOTDIR {
			c = 127
		}
		fail(c, r.Path+": "+errText(err))
	})
}

// start forks and registers the process so that its exit is reported.
func (a *agent) start(id uint64, path string, argv []string, attr *syscall.ProcAttr, fds []int, onErr func(error)) {
	a.mu.Lock()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		a.mu.Unlock()
		onErr(err)
		return
	}
	a.procs[pid] = id
	a.send(&message{ID: id, Ev: evStarted, PID: pid}, fds)
	a.mu.Unlock()
}

func (a *agent) pty(r *request) {
	fail := func(err error) {
		a.send(&message{ID: r.ID, Ev: evError, Msg: err.Error()}, nil)
	}
	shell := r.Path
	if shell == "" {
		shell = "/bin/bash"
		if _, err := os.Stat(shell); err != nil {
			shell = "/bin/sh"
		}
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(fmt.Errorf("open /dev/ptmx: %w", err))
		return
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		fail(fmt.Errorf("unlockpt: %w", err))
		return
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		fail(fmt.Errorf("ptsname: %w", err))
		return
	}
	slave, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(fmt.Errorf("open pts: %w", err))
		return
	}
	defer unix.Close(slave)
	_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(r.Rows), Col: uint16(r.Cols)})
	cwd := r.Cwd
	if st, err := os.Stat(cwd); err != nil || !st.IsDir() {
		cwd = "/"
	}
	attr := &syscall.ProcAttr{
		Dir:   cwd,
		Env:   r.Env,
		Files: []uintptr{uintptr(slave), uintptr(slave), uintptr(slave)},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	a.start(r.ID, shell, []string{shell}, attr, []int{master}, func(err error) {
		fail(fmt.Errorf("start %s: %w", shell, err))
	})
}

// reap collects every exited child, reports the ones the server started,
// and ends the agent when terminating and nothing is left.
func (a *agent) reap() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECHILD && a.terminating {
			os.Exit(0)
		}
		if err != nil || pid <= 0 {
			return
		}
		id, ok := a.procs[pid]
		if !ok {
			continue
		}
		delete(a.procs, pid)
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		a.send(&message{ID: id, Ev: evExit, PID: pid, Code: code}, nil)
	}
}

// trimMemory drops what the idle agent does not need from its resident
// set: the pages of read-only file mappings (the executable's text and
// read-only data, shared libraries) that start-up touched, including
// every package's init in a large binary and the kernel's fault-around,
// and the heap's free pages. Read-only file pages that were never
// written are identical to the page cache, so MADV_DONTNEED only unmaps
// them and later use faults them back in from the page cache (no I/O);
// mappings holding private copies (Anonymous > 0, e.g. relocated RELRO
// data) are left alone.
func trimMemory(freeHeap bool) {
	if freeHeap {
		debug.FreeOSMemory()
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return
	}
	var start, end uintptr
	drop := false
	flush := func() {
		if drop && end > start {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
		}
		drop = false
	}
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && !bytes.ContainsAny(k, " -") {
			// "Key:   N kB" of the current mapping.
			if string(k) == "Anonymous" && string(bytes.TrimSpace(v)) != "0 kB" {
				drop = false
			}
			continue
		}
		// A mapping header: "start-end perms offset dev inode path".
		flush()
		f := bytes.Fields(line)
		if len(f) < 6 || len(f[1]) != 4 || f[1][1] == 'w' || f[5][0] != '/' {
			continue
		}
		lo, hi, ok := bytes.Cut(f[0], []byte("-"))
		if !ok {
			continue
		}
		s, err1 := strconv.ParseUint(string(lo), 16, 64)
		e, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		start, end, drop = uintptr(s), uintptr(e), true
	}
	flush()
}
