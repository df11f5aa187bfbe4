//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The hostile-tenant suite: each test runs an attack of issue 9 (and the
// agent faults of issue 10 row 4) for real, from inside a real sandbox
// or against its agent, with bounded sizes, and checks that it fails or
// stays bounded.

// hostileManager returns a Manager of its own with short agent deadlines,
// closed at the end of the test.
func hostileManager(t *testing.T) *Manager {
	t.Helper()
	manager(t) // skip-free: fails when the shared one could not start
	dir, err := os.MkdirTemp(testRunDir, "hostile-")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Config{RunDir: dir, TmpSize: 64 << 20, AgentTimeout: time.Second, LivenessInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func startIn(t *testing.T, m *Manager) *Sandbox {
	t.Helper()
	s, err := m.Start(context.Background(), Spec{ID: fmt.Sprintf("hostile-%d", sbxSeq.Add(1)), WorkspaceDir: workspaceDir(t)})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Stop(0) })
	return s
}

// agentHostPID is the agent's pid on the host (pid 1 of the sandbox).
func agentHostPID(t *testing.T, s *Sandbox) int {
	t.Helper()
	pid := int(s.childPID.Load())
	if pid <= 0 {
		t.Fatal("agent pid unknown")
	}
	return pid
}

// Row 1: code in a sandbox cannot reach its agent (ptrace, pidfd_getfd,
// /proc/1/fd, /proc/1/mem, signals), and 200 such attacks leave the
// server's descriptors where they were.
func TestHostileAgentUnreachable(t *testing.T) {
	s := startSandbox(t, "", nil)
	res := runProbeIn(t, s, "agent")
	if res.ExitCode != 0 {
		t.Fatalf("attacks on the agent succeeded (exit %d):\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	before := countFDs(t)
	for i := range 200 {
		r, err := s.Run(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c",
			"kill -STOP 1; kill -KILL 1; kill -TERM 1; kill -ABRT 1; kill -SEGV 1; kill -KILL -1; readlink /proc/1/fd/*; cat /proc/1/environ"}})
		if err != nil {
			t.Fatalf("run %d after attacks: %v (sandbox err %v)", i, err, s.Err())
		}
		if r.ExitCode == 0 {
			t.Fatalf("run %d: /proc/1 of the agent readable: %s", i, r.Stdout)
		}
	}
	// Other tests of the package run in parallel and open and close
	// descriptors too: a leak shows as growth, far beyond their few.
	if after := countFDs(t); after > before+8 {
		t.Errorf("server descriptors: %d before 200 attacks, %d after", before, after)
	}
	if s.Err() != nil {
		t.Errorf("sandbox failed: %v", s.Err())
	}
}

// Row 1, server side: every reply is untrusted. A taken-over agent
// (simulated from the host, which alone can still reach the agent's
// control socket) that sends forged replies, descriptors where none
// belong, oversized or malformed packets, puts the sandbox in error with
// ErrAgentDead, and no descriptor it sent stays open in the server.
func TestHostileForgedReplies(t *testing.T) {
	m := hostileManager(t)
	forgeries := []struct {
		name string
		body []byte
		fds  int
	}{
		{"unknown id with descriptors", []byte(`{"id":999999,"ev":"exit"}`), 3},
		{"hello again with a descriptor", []byte(`{"id":0,"ev":"hello"}`), 1},
		{"malformed with descriptors", []byte(`{"id":`), 2},
		{"oversized", bytes.Repeat([]byte(" "), agent.MaxPacket+1), 1},
		{"too many descriptors", []byte(`{"id":999999,"ev":"ok"}`), 8},
	}
	before := countFDs(t)
	for round := range 4 {
		for _, f := range forgeries {
			s := startIn(t, m)
			// A command in flight, whose reply a forger might hijack.
			p, err := s.Start(context.Background(), ExecRequest{Command: "sleep", Args: []string{"30"}})
			if err != nil {
				t.Fatal(err)
			}
			forgeReply(t, s, f.body, f.fds)
			<-s.Done()
			if err := s.Err(); !errors.Is(err, ErrAgentDead) {
				t.Fatalf("round %d, %s: Err() = %v, want ErrAgentDead", round, f.name, err)
			}
			if _, err := p.Wait(); !errors.Is(err, ErrAgentDead) {
				t.Errorf("%s: in-flight Wait: %v, want ErrAgentDead", f.name, err)
			}
			p.Stdout.Close()
			p.Stderr.Close()
			if _, err := s.Run(context.Background(), ExecRequest{Command: "true"}); !errors.Is(err, ErrAgentDead) {
				t.Errorf("%s: Run after: %v, want ErrAgentDead", f.name, err)
			}
		}
	}
	if after := countFDs(t); after != before {
		ents, _ := os.ReadDir("/proc/self/fd")
		var l []string
		for _, e := range ents {
			x, _ := os.Readlink("/proc/self/fd/" + e.Name())
			l = append(l, e.Name()+"="+x)
		}
		t.Errorf("server descriptors: %d before %d forged replies, %d after: %v", before, 4*len(forgeries), after, l)
	}
}

// forgeReply takes the agent's end of the control socket (the host is
// root: it can) and sends body on it with n pipe descriptors attached.
func forgeReply(t *testing.T, s *Sandbox, body []byte, n int) {
	t.Helper()
	pid := agentHostPID(t, s)
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	sock := -1
	for _, e := range ents {
		if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); strings.HasPrefix(l, "socket:") {
			fd, _ := strconv.Atoi(e.Name())
			if sock, err = unix.PidfdGetfd(pidfd, fd, 0); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if sock < 0 {
		t.Fatal("agent has no control socket")
	}
	f := os.NewFile(uintptr(sock), "stolen")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var fds []int
	for range (n + 1) / 2 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		fds = append(fds, p[:]...)
	}
	defer closeFDs(fds)
	fds = fds[:n]
	if _, _, err := c.(*net.UnixConn).WriteMsgUnix(body, unix.UnixRights(fds...), nil); err != nil {
		t.Fatal(err)
	}
}

// Row 2 (the /dev part): /dev is built and read-only, and /dev/shm is a
// sized tmpfs: 100 MiB do not fit in its default 64 MiB.
func TestHostileDevShmBounded(t *testing.T) {
	s := startSandbox(t, "", nil)
	res := sh(t, s, "head -c 104857600 /dev/zero > /dev/shm/fill; echo rc=$?; du -sk /dev/shm/fill")
	out := string(res.Stdout)
	if !strings.Contains(out, "rc=1") || !strings.Contains(string(res.Stderr), "No space left") {
		t.Fatalf("100 MiB into /dev/shm: %s %s", out, res.Stderr)
	}
	if kib, _ := strconv.Atoi(strings.Fields(out[strings.Index(out, "\n")+1:])[0]); kib > (DefaultShmSize>>10)+1024 {
		t.Errorf("/dev/shm holds %d KiB, bound %d KiB", kib, DefaultShmSize>>10)
	}
	res = sh(t, s, "touch /dev/planted; echo data > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts/ptmx")
	if res.ExitCode != 0 || !strings.Contains(string(res.Stderr), "Read-only file system") || !strings.Contains(string(res.Stdout), "4") {
		t.Errorf("/dev: %+v", res)
	}
}

// Row 3: the server's session keyring is not reachable, and sandboxes
// cannot share keys (keyctl, add_key, request_key are refused; the agent
// joins a fresh session keyring).
func TestHostileKeyring(t *testing.T) {
	id, err := unix.AddKey("user", "sandbox-test-host-key", []byte("host secret"), unix.KEY_SPEC_SESSION_KEYRING)
	if err != nil {
		t.Fatalf("add a key on the host: %v", err)
	}
	t.Cleanup(func() { unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_SESSION_KEYRING, 0, 0) })
	a := startSandbox(t, "", nil)
	b := startSandbox(t, "", nil)
	for _, s := range []*Sandbox{a, b} {
		if res := runProbeIn(t, s, "keys", strconv.Itoa(id)); res.ExitCode != 0 {
			t.Errorf("keyring reachable (exit %d):\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
		}
	}
}

// Row 6: seccomp mode 2 for everything in a sandbox, no user namespaces,
// and the kernel interfaces of the filter refused.
func TestHostileSeccomp(t *testing.T) {
	s := startSandbox(t, "", nil)
	res := sh(t, s, "grep Seccomp: /proc/self/status; grep Seccomp: /proc/1/status")
	if got := strings.Fields(string(res.Stdout)); len(got) != 4 || got[1] != "2" || got[3] != "2" {
		t.Errorf("seccomp mode of a command and of the agent: %q", res.Stdout)
	}
	for _, cmd := range []string{"unshare -U true", "unshare -r true", "unshare -m true"} {
		if res := sh(t, s, cmd); res.ExitCode == 0 {
			t.Errorf("%s: allowed", cmd)
		}
	}
	if res := runProbeIn(t, s, "syscalls"); res.ExitCode != 0 {
		t.Errorf("refused calls reached the kernel (exit %d):\n%s%s", res.ExitCode, res.Stdout, res.Stderr)
	}
	// Ordinary work still runs under the filter: threads (clone),
	// pipes, a shell pipeline.
	if res := sh(t, s, "seq 1000 | sort -n | tail -1"); strings.TrimSpace(string(res.Stdout)) != "1000" {
		t.Errorf("pipeline under seccomp: %+v", res)
	}
}

// Row 8: no host path is visible in the sandbox's command lines.
func TestHostileNoHostPaths(t *testing.T) {
	ws := workspaceDir(t)
	s := startSandbox(t, ws, nil)
	res := sh(t, s, "cat /proc/1/cmdline; echo; for p in /proc/[0-9]*; do cat $p/cmdline 2>/dev/null; echo; done")
	out := string(res.Stdout)
	if !strings.HasPrefix(out, agent.PathInSandbox+"\x00"+agent.Arg+"\x00\n") {
		t.Errorf("pid 1 is not the agent: %q", out)
	}
	for _, host := range []string{testRunDir, ws, manager(t).agentDir} {
		if strings.Contains(out, host) {
			t.Errorf("host path %s visible inside: %q", host, out)
		}
	}
}

// Issue 10 row 4: a stopped agent is noticed; the in-flight Run and
// every later call fail with ErrAgentTimeout, the sandbox ends in error.
func TestHostileAgentStopped(t *testing.T) {
	m := hostileManager(t)
	s := startIn(t, m)
	pid := agentHostPID(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	arg := uniqueSleep(50)
	go func() {
		_, err := s.Run(ctx, ExecRequest{Command: "sleep", Args: []string{arg}})
		done <- err
	}()
	eventually(t, "sleep started", func() bool { return len(hostProcs("sleep "+arg)) > 0 })
	if err := unix.Kill(pid, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer unix.Kill(pid, unix.SIGCONT)
	if err := <-done; !errors.Is(err, ErrAgentTimeout) {
		t.Fatalf("in-flight Run: %v, want ErrAgentTimeout", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrAgentTimeout) {
		t.Errorf("Err() = %v", s.Err())
	}
	if _, err := s.Run(ctx, ExecRequest{Command: "true"}); !errors.Is(err, ErrAgentTimeout) {
		t.Errorf("Run after: %v", err)
	}

	// Stopped while idle: the next call's own deadline notices.
	s2 := startIn(t, m)
	pid2 := agentHostPID(t, s2)
	if err := unix.Kill(pid2, unix.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer unix.Kill(pid2, unix.SIGCONT)
	if _, err := s2.Run(ctx, ExecRequest{Command: "true"}); !errors.Is(err, ErrAgentTimeout) {
		t.Fatalf("Run on a stopped agent: %v, want ErrAgentTimeout", err)
	}
	<-s2.Done()
}

// Issue 10 row 4: a killed agent ends the sandbox in error; the
// in-flight Run and later calls fail with ErrAgentDead.
func TestHostileAgentKilled(t *testing.T) {
	m := hostileManager(t)
	s := startIn(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	arg := uniqueSleep(50)
	go func() {
		_, err := s.Run(ctx, ExecRequest{Command: "sleep", Args: []string{arg}})
		done <- err
	}()
	eventually(t, "sleep started", func() bool { return len(hostProcs("sleep "+arg)) > 0 })
	if err := unix.Kill(agentHostPID(t, s), unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrAgentDead) {
		t.Fatalf("in-flight Run: %v, want ErrAgentDead", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrAgentDead) {
		t.Errorf("Err() = %v", s.Err())
	}
	if _, err := s.Run(ctx, ExecRequest{Command: "true"}); !errors.Is(err, ErrAgentDead) {
		t.Errorf("Run after: %v", err)
	}
	if p := hostProcs("sleep " + arg); len(p) != 0 {
		t.Errorf("processes survived their agent: %v", p)
	}
	// A normal stop is not an error.
	s2 := startIn(t, m)
	s2.Stop(0)
	if err := s2.Err(); err != nil {
		t.Errorf("Err() after Stop = %v", err)
	}
}

// Issue 10 row 3: a request over the agent's limit is refused before it
// is sent, and the sandbox keeps working.
func TestHostileOversizedRequest(t *testing.T) {
	s := startSandbox(t, "", nil)
	big := strings.Repeat("x", MaxRequestSize)
	if _, err := s.Run(context.Background(), ExecRequest{Command: "true", Env: map[string]string{"BIG": big}}); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("oversized request: %v, want ErrRequestTooLarge", err)
	}
	if res := run(t, s, ExecRequest{Command: "true"}); res.ExitCode != 0 || s.Err() != nil {
		t.Fatalf("after: %+v %v", res, s.Err())
	}
}
