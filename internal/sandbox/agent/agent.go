//go:build linux

package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Agent mode. The server starts bwrap with argv [PathInSandbox, Arg] and
// the environment variable Env=1 (nothing else: bwrap runs with
// --clearenv). The control socket is descriptor CtlFD.
const (
	// Env is the environment variable (value "1") that, together with
	// Arg as the only argument, puts a binary calling MaybeRun into agent
	// mode. It never reaches sandboxed commands.
	Env = "_WORKSPACE_SANDBOX_AGENT"
	// Arg is the single command-line argument of agent mode.
	Arg = "workspace-sandbox-agent"
	// ProbeArg makes the binary print ProbeReply and exit 0 at once (the
	// server's check that a binary acts as this version's agent).
	ProbeArg = "workspace-sandbox-probe"
	// ProbeReply names the protocol version: an agent binary from
	// another version of this package fails the server's probe.
	ProbeReply = "workspace-sandbox-agent ok, protocol " + protocolVersion
	// PathInSandbox is where the server binds the agent executable.
	PathInSandbox = "/.agent/agent"
	// CtlFD is the control socket's descriptor in the agent.
	CtlFD = 3

	protocolVersion = "2"
	gcPercent       = 20 // heap goal at least 800 KiB instead of 4 MiB
	// idleTrim is how long the agent waits without a request before it
	// trims its memory (see trimMemory).
	idleTrim = time.Second
)

// MaybeRun runs the sandbox agent and exits when this process was started
// as one (argv [path, Arg] and Env=1), and returns at once otherwise. An
// executable used as the agent must call it first thing in main (or
// TestMain), before flags are parsed or anything else starts.
func MaybeRun() {
	if len(os.Args) != 2 || os.Getenv(Env) != "1" {
		return
	}
	switch os.Args[1] {
	case ProbeArg:
		fmt.Println(ProbeReply)
		os.Exit(0)
	case Arg:
		// The server also sets GOMAXPROCS=1 (read by the runtime
		// before any init: one P, few threads); commands get the
		// environment of their request only, but clear both anyway.
		os.Unsetenv(Env)
		os.Unsetenv("GOMAXPROCS")
		// A small heap goal: the agent's live heap is a few KiB and
		// the default lets it grow to 4 MiB between collections.
		debug.SetGCPercent(gcPercent)
		os.Exit(run())
	}
}

// agent is the state of the running agent.
type agent struct {
	ctl     *conn
	devNull *os.File

	mu          sync.Mutex // held across fork+register and across reaping
	procs       map[int]uint64
	terminating bool
}

func run() int {
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
	// Nothing may leak into commands: mark every inherited descriptor,
	// the control socket included, close-on-exec.
	_ = unix.CloseRange(CtlFD, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	ctl, err := newConn(CtlFD)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox agent: control socket:", err)
		return 2
	}
	devNull, err := os.OpenFile("/dev/null", os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox agent:", err)
		return 2
	}
	a := &agent{ctl: ctl, devNull: devNull, procs: map[int]uint64{}}

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

	a.send(&Message{Ev: EvHello, PID: os.Getpid()}, nil)
	buf := make([]byte, MaxPacket)
	oob := make([]byte, OOBSpace)
	trimmed := false
	for {
		if !trimmed {
			_ = ctl.setReadDeadline(time.Now().Add(idleTrim))
		}
		b, fds, err := ctl.recv(buf, oob)
		if err != nil && !trimmed && errors.Is(err, os.ErrDeadlineExceeded) {
			// Idle: give back what start-up and the last requests
			// faulted in.
			trimMemory()
			trimmed = true
			_ = ctl.setReadDeadline(time.Time{})
			continue
		}
		trimmed = false
		if err != nil {
			// The server is gone: take everything down with us.
			_ = unix.Kill(-1, syscall.SIGKILL)
			return 0
		}
		r, fds, err := DecodeRequest(b, fds)
		if err != nil {
			CloseFDs(fds)
			if r != nil {
				// Never drop a request silently: the caller waits.
				a.send(&Message{ID: r.ID, Ev: EvError, Msg: "bad request: " + err.Error()}, nil)
			}
			continue
		}
		a.handle(r, fds)
	}
}

func (a *agent) send(m *Message, fds []int) {
	b, _ := json.Marshal(m)
	_ = a.ctl.send(b, fds)
}

func (a *agent) handle(r *Request, fds []int) {
	switch r.Op {
	case OpExec:
		a.exec(r, fds)
	case OpPTY:
		CloseFDs(fds)
		a.pty(r)
	case OpSignal:
		CloseFDs(fds)
		a.signal(r)
	case OpDial:
		CloseFDs(fds)
		go a.dial(r)
	case OpKillGroup:
		CloseFDs(fds)
		if r.PID > 1 && r.PID != os.Getpid() {
			_ = unix.Kill(-r.PID, syscall.Signal(r.Sig))
		}
		a.send(&Message{ID: r.ID, Ev: EvOK}, nil)
	case OpPing:
		CloseFDs(fds)
		a.send(&Message{ID: r.ID, Ev: EvOK}, nil)
	case OpTerminate:
		CloseFDs(fds)
		a.mu.Lock()
		a.terminating = true
		a.mu.Unlock()
		_ = unix.Kill(-1, syscall.SIGTERM)
		a.reap()
	default:
		CloseFDs(fds)
		a.send(&Message{ID: r.ID, Ev: EvError, Msg: "unknown op " + r.Op}, nil)
	}
}

func (a *agent) signal(r *Request) {
	pid := r.PID
	if pid <= 1 || pid == os.Getpid() {
		a.send(&Message{ID: r.ID, Ev: EvError, NotFound: true, Msg: "no such process"}, nil)
		return
	}
	target := pid
	if pgid, err := unix.Getpgid(pid); err != nil {
		a.send(&Message{ID: r.ID, Ev: EvError, NotFound: true, Msg: "no such process"}, nil)
		return
	} else if pgid == pid {
		target = -pid
	}
	if err := unix.Kill(target, syscall.Signal(r.Sig)); err != nil {
		a.send(&Message{ID: r.ID, Ev: EvError, NotFound: err == unix.ESRCH, Msg: err.Error()}, nil)
		return
	}
	a.send(&Message{ID: r.ID, Ev: EvOK}, nil)
}

// conn is the agent's end of the control socket, on the runtime's poller
// (without the net package, which would make the binary need cgo).
type conn struct {
	f      *os.File
	raw    syscall.RawConn
	sendMu sync.Mutex
}

func newConn(fd int) (*conn, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "ctl") // non-blocking: on the poller
	raw, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &conn{f: f, raw: raw}, nil
}

func (c *conn) setReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// recv reads one packet and the descriptors attached to it (made
// close-on-exec); io.EOF when the server closed its end.
func (c *conn) recv(buf, oob []byte) ([]byte, []int, error) {
	var n, oobn int
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return nil, nil, err
	}
	if n == 0 && oobn == 0 {
		return nil, nil, io.EOF
	}
	return buf[:n], ParseRights(oob[:oobn]), nil
}

// send writes one packet with optional descriptors.
func (c *conn) send(b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	var serr error
	err := c.raw.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), b, oob, nil, 0)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return err
}
