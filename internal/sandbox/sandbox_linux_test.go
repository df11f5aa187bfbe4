//go:build linux

package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var (
	testMgr    *Manager
	testRunDir string
	mgrErr     error
	sbxSeq     atomic.Int64
)

func TestMain(m *testing.M) {
	MaybeRunAgent()
	if name := os.Getenv(probeEnv); name != "" {
		// This test binary was started inside a sandbox as an attack
		// probe (see probe_linux_test.go).
		os.Exit(runProbe(name, os.Args[1:]))
	}
	if _, err := exec.LookPath("bwrap"); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "bwrap is required under CI=true:", err)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP: bwrap not installed; the sandbox tests need it")
		os.Exit(0)
	}
	// The secret must not reach sandboxes (TestSecurity).
	os.Setenv("SANDBOX_TEST_HOST_SECRET", "hunter2")
	dir, err := os.MkdirTemp("", "sandbox-run-")
	if err == nil {
		err = os.Chmod(dir, 0o755) // searchable by the sandbox uid
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testRunDir = dir
	testMgr, mgrErr = NewManager(Config{RunDir: dir, TmpSize: 64 << 20})
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if testMgr != nil {
			testMgr.Close()
		}
		os.RemoveAll(dir)
	}))
}

func manager(tb testing.TB) *Manager {
	tb.Helper()
	if mgrErr != nil {
		tb.Fatalf("NewManager: %v", mgrErr)
	}
	return testMgr
}

// workspaceDir returns a fresh directory usable as Spec.WorkspaceDir:
// owned by the sandbox uid when root, with searchable parents.
func workspaceDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for p := dir; p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
		if err := os.Chmod(p, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, DefaultUID, DefaultUID); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func startSandbox(tb testing.TB, ws string, env map[string]string) *Sandbox {
	tb.Helper()
	if ws == "" {
		ws = workspaceDir(tb)
	}
	id := fmt.Sprintf("sbx-%d", sbxSeq.Add(1))
	s, err := manager(tb).Start(context.Background(), Spec{ID: id, WorkspaceDir: ws, Env: env})
	if err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { s.Stop(0) })
	return s
}

func run(t *testing.T, s *Sandbox, req ExecRequest) *ExecResult {
	t.Helper()
	res, err := s.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run %s %q: %v", req.Command, req.Args, err)
	}
	return res
}

func sh(t *testing.T, s *Sandbox, script string) *ExecResult {
	t.Helper()
	return run(t, s, ExecRequest{Command: "sh", Args: []string{"-c", script}})
}

func TestRunBasics(t *testing.T) {
	s := startSandbox(t, "", map[string]string{"SPEC_VAR": "spec", "OVER": "spec"})

	res := run(t, s, ExecRequest{Command: "printf", Args: []string{`a\000b\377\r\nend`}})
	if !bytes.Equal(res.Stdout, []byte("a\x00b\xff\r\nend")) || res.ExitCode != 0 || len(res.Stderr) != 0 {
		t.Errorf("printf: %+v", res)
	}
	res = sh(t, s, "echo out; echo err >&2; exit 7")
	if string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 7 {
		t.Errorf("exit 7: %+v", res)
	}
	res = run(t, s, ExecRequest{Command: "no-such-command-xyz"})
	if res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "no-such-command-xyz: command not found") {
		t.Errorf("not found: code %d stderr %q", res.ExitCode, res.Stderr)
	}
	res = run(t, s, ExecRequest{Command: "/usr/bin/no-such"})
	if res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "No such file") {
		t.Errorf("abs not found: code %d stderr %q", res.ExitCode, res.Stderr)
	}
	sh(t, s, "printf 'echo hi' > /workspace/script.sh && chmod 644 /workspace/script.sh")
	res = run(t, s, ExecRequest{Command: "./script.sh"})
	if res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "Permission denied") {
		t.Errorf("not executable: code %d stderr %q", res.ExitCode, res.Stderr)
	}
	res = run(t, s, ExecRequest{Command: "/tmp"})
	if res.ExitCode != 126 {
		t.Errorf("directory: code %d stderr %q", res.ExitCode, res.Stderr)
	}
	res = sh(t, s, "kill -9 $$")
	if res.ExitCode != 128+9 {
		t.Errorf("signalled: code %d", res.ExitCode)
	}

	// stdin fed then closed; nil is /dev/null.
	res = run(t, s, ExecRequest{Command: "cat", Stdin: []byte("in\x00put")})
	if string(res.Stdout) != "in\x00put" {
		t.Errorf("stdin: %q", res.Stdout)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than a pipe holds
	res = run(t, s, ExecRequest{Command: "cat", Stdin: big})
	if !bytes.Equal(res.Stdout, big) {
		t.Errorf("big stdin: got %d bytes", len(res.Stdout))
	}
	res = run(t, s, ExecRequest{Command: "cat"})
	if len(res.Stdout) != 0 || res.ExitCode != 0 {
		t.Errorf("nil stdin: %+v", res)
	}

	// env: defaults, spec, request on top; cwd.
	res = run(t, s, ExecRequest{Command: "env", Env: map[string]string{"OVER": "req", "REQ_VAR": "r"}})
	env := string(res.Stdout)
	for _, want := range []string{"SPEC_VAR=spec\n", "OVER=req\n", "REQ_VAR=r\n", "PATH=" + DefaultPath + "\n", "HOME=/workspace\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if res := run(t, s, ExecRequest{Command: "pwd"}); string(res.Stdout) != "/workspace\n" {
		t.Errorf("pwd: %q", res.Stdout)
	}
	if res := run(t, s, ExecRequest{Command: "pwd", Cwd: "/tmp"}); string(res.Stdout) != "/tmp\n" {
		t.Errorf("pwd /tmp: %q", res.Stdout)
	}
	if res := run(t, s, ExecRequest{Command: "pwd", Cwd: "/nonexistent"}); res.ExitCode != 126 || !strings.Contains(string(res.Stderr), "/nonexistent") {
		t.Errorf("bad cwd: %+v", res)
	}

	// Output cap, per stream: the rest is read and dropped while the
	// command keeps running (it exits 0, not from SIGPIPE).
	res = run(t, s, ExecRequest{Command: "sh", Args: []string{"-c", "head -c 100000 /dev/zero; echo err >&2"}, MaxOutput: 1000})
	if len(res.Stdout) != 1000 || !res.StdoutTruncated || res.StderrTruncated || res.ExitCode != 0 || string(res.Stderr) != "err\n" {
		t.Errorf("cap: %d bytes, %+v", len(res.Stdout), res)
	}
	res = run(t, s, ExecRequest{Command: "sh", Args: []string{"-c", "head -c 5000 /dev/zero >&2; echo out"}, MaxOutput: 1000})
	if len(res.Stderr) != 1000 || res.StdoutTruncated || !res.StderrTruncated || string(res.Stdout) != "out\n" {
		t.Errorf("stderr cap: %d bytes, %+v", len(res.Stderr), res)
	}

	// A large request (argv beyond one packet) travels through a memfd.
	arg := strings.Repeat("x", 100<<10)
	res = run(t, s, ExecRequest{Command: "sh", Args: []string{"-c", `printf %s "$1" | wc -c`, "sh", arg}})
	if strings.TrimSpace(string(res.Stdout)) != "102400" {
		t.Errorf("large argv: %q %q", res.Stdout, res.Stderr)
	}
}

func TestConcurrentRuns(t *testing.T) {
	s := startSandbox(t, "", nil)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				want := fmt.Sprintf("%d-%d", i, j)
				res, err := s.Run(context.Background(), ExecRequest{Command: "echo", Args: []string{want}})
				if err != nil || string(res.Stdout) != want+"\n" {
					t.Errorf("run %s: %v %+v", want, err, res)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestTimeoutPartialOutput(t *testing.T) {
	s := startSandbox(t, "", nil)
	res, err := s.Run(context.Background(), ExecRequest{
		Command: "sh", Args: []string{"-c", "echo start; echo e >&2; sleep 30; echo never"},
		Timeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if res == nil || string(res.Stdout) != "start\n" || string(res.Stderr) != "e\n" || res.ExitCode != 128+9 {
		t.Fatalf("partial result: %+v", res)
	}
}

// procsMatching lists the sandbox's processes whose command line contains s.
func procsMatching(t *testing.T, sb *Sandbox, s string) string {
	t.Helper()
	res := run(t, sb, ExecRequest{Command: "ps", Args: []string{"-eo", "pid,args"}})
	var out []string
	for _, l := range strings.Split(string(res.Stdout), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancelKillsProcessGroup(t *testing.T) {
	s := startSandbox(t, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		// The child sleep is in the same process group and must die too.
		_, err := s.Run(ctx, ExecRequest{Command: "sh", Args: []string{"-c", "sleep 321.5; true"}})
		errc <- err
	}()
	eventually(t, "sleep started", func() bool { return procsMatching(t, s, "sleep 321.5") != "" })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
	eventually(t, "sleep killed", func() bool { return procsMatching(t, s, "sleep 321.5") == "" })
}

// uniqueSleep returns a sleep duration argument of about base seconds
// that no other test process on the host uses (other test runs may run
// at the same time), so that hostProcs finds only this run's processes.
func uniqueSleep(base int) string {
	return fmt.Sprintf("%d.%d%d", base, os.Getpid(), sbxSeq.Add(1))
}

// hostProcs lists host processes whose command line contains s.
func hostProcs(s string) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), s) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestBackgroundProcessLifetime(t *testing.T) {
	s := startSandbox(t, "", nil)
	sleep := "sleep " + uniqueSleep(1000)
	res := sh(t, s, sleep+" & echo started")
	if string(res.Stdout) != "started\n" {
		t.Fatalf("background start: %+v", res)
	}
	if procsMatching(t, s, sleep) == "" {
		t.Fatal("background process did not survive its command")
	}
	if len(hostProcs(sleep)) == 0 {
		t.Fatal("background process not visible on the host")
	}
	// Zombies are reaped.
	sh(t, s, "for i in 1 2 3; do sh -c 'exit 0' & done; wait")
	if z := run(t, s, ExecRequest{Command: "ps", Args: []string{"-eo", "stat,args"}}); strings.Contains(string(z.Stdout), "Z ") {
		t.Errorf("zombies:\n%s", z.Stdout)
	}
	if err := s.Stop(0); err != nil {
		t.Fatal(err)
	}
	if p := hostProcs(sleep); len(p) != 0 {
		t.Fatalf("background process outlived the sandbox: %v", p)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if err := s.Stop(time.Second); err != nil {
		t.Fatal("second Stop:", err)
	}
	if _, err := s.Run(context.Background(), ExecRequest{Command: "true"}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Run after Stop: %v", err)
	}
	if err := s.Signal(5, syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal after Stop: %v", err)
	}
}

func TestGracefulStop(t *testing.T) {
	s := startSandbox(t, "", nil)
	// The TERM handler leaves a trace in the workspace.
	sh(t, s, `sh -c 'trap "echo term > /workspace/trapped; exit 0" TERM; while :; do sleep 0.05; done' >/dev/null 2>&1 &`)
	if err := s.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
}

func TestGracefulStopKillsStubborn(t *testing.T) {
	ws := workspaceDir(t)
	s := startSandbox(t, ws, nil)
	sleep := "sleep " + uniqueSleep(1000)
	sh(t, s, `sh -c 'trap "" TERM; `+sleep+`' >/dev/null 2>&1 &`)
	if err := s.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if p := hostProcs(sleep); len(p) != 0 {
		t.Fatalf("survived: %v", p)
	}
}

func TestTmpPrivateAndWorkspaceShared(t *testing.T) {
	ws := workspaceDir(t)
	a := startSandbox(t, ws, nil)
	b := startSandbox(t, ws, nil)
	sh(t, a, "echo private > /tmp/f && echo shared > /workspace/f")
	if res := sh(t, a, "cat /tmp/f"); string(res.Stdout) != "private\n" {
		t.Errorf("/tmp did not persist: %+v", res)
	}
	if res := sh(t, b, "cat /tmp/f"); res.ExitCode == 0 {
		t.Errorf("/tmp shared between sandboxes: %q", res.Stdout)
	}
	if res := sh(t, b, "cat /workspace/f"); string(res.Stdout) != "shared\n" {
		t.Errorf("workspace not shared: %+v", res)
	}
	b2, err := os.ReadFile(filepath.Join(ws, "f"))
	if err != nil || string(b2) != "shared\n" {
		t.Errorf("host view: %q %v", b2, err)
	}
}

func TestSecurity(t *testing.T) {
	s := startSandbox(t, "", nil)
	check := func(name, script string, wantOK bool) *ExecResult {
		t.Helper()
		res := sh(t, s, script)
		if (res.ExitCode == 0) != wantOK {
			t.Errorf("%s: exit %d, stdout %q stderr %q", name, res.ExitCode, res.Stdout, res.Stderr)
		}
		return res
	}
	check("read /etc/shadow", "cat /etc/shadow", false)
	check("write /usr", "touch /usr/pwned", false)
	check("write /usr/bin", "echo x > /usr/bin/pwned", false)
	check("write /", "touch /pwned", false)
	check("mknod", "mknod /tmp/null c 1 3", false)
	check("remount /usr", "mount -o remount,rw /usr", false)
	check("mount tmpfs", "mount -t tmpfs none /tmp", false)
	check("sudoers absent", "test -e /etc/sudoers", false)
	check("host home absent", "test -e /root", false)
	check("gshadow absent", "test -e /etc/gshadow", false)
	check("needed /etc present", "grep -q '^root:' /etc/passwd && test -e /etc/hosts && test -e /etc/nsswitch.conf && id -un", true)
	if _, err := os.Stat("/etc/ssl/certs"); err == nil {
		check("CA certificates", "cat /etc/ssl/certs/*.pem | grep -q 'BEGIN CERTIFICATE'", true)
	}

	res := run(t, s, ExecRequest{Command: "env"})
	if strings.Contains(string(res.Stdout), "hunter2") || strings.Contains(string(res.Stdout), agent.Env) {
		t.Errorf("host or agent environment leaked:\n%s", res.Stdout)
	}
	// The agent's own environment is not readable either.
	res = sh(t, s, "cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")
	if strings.Contains(string(res.Stdout), "hunter2") {
		t.Errorf("host secret visible in /proc:\n%s", res.Stdout)
	}
	res = run(t, s, ExecRequest{Command: "grep", Args: []string{"^Cap", "/proc/self/status"}})
	for _, f := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if !strings.Contains(string(res.Stdout), f+":\t0000000000000000") {
			t.Errorf("%s not empty:\n%s", f, res.Stdout)
		}
	}
	if res := run(t, s, ExecRequest{Command: "hostname"}); strings.TrimSpace(string(res.Stdout)) != s.ID() {
		t.Errorf("hostname %q, want %q", res.Stdout, s.ID())
	}
	// Own network namespace: only a loopback interface, down.
	if res := run(t, s, ExecRequest{Command: "cat", Args: []string{"/proc/net/dev"}}); strings.Count(string(res.Stdout), ":") != 1 {
		t.Errorf("network devices visible:\n%s", res.Stdout)
	}
	// Own pid namespace: the host's processes are invisible.
	res = sh(t, s, "ls -d /proc/[0-9]* | wc -l")
	var nproc int
	if _, err := fmt.Sscan(string(res.Stdout), &nproc); err != nil || nproc > 6 {
		t.Errorf("host processes visible: %q in /proc", res.Stdout)
	}
	if os.Geteuid() == 0 {
		// Files created inside belong to the unprivileged host uid.
		ws := workspaceDir(t)
		s2 := startSandbox(t, ws, nil)
		sh(t, s2, "touch /workspace/owned")
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(ws, "owned"), &st); err != nil || st.Uid != DefaultUID {
			t.Errorf("file owner %d (%v), want %d", st.Uid, err, DefaultUID)
		}
	}
}

func TestRootFS(t *testing.T) {
	ws := workspaceDir(t)
	s, err := manager(t).Start(context.Background(), Spec{ID: "rootfs", Hostname: "custom-host", WorkspaceDir: ws, RootFS: "/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(0)
	// /srv exists in the host root but not in the host-root layout.
	res, err := s.Run(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c", "test -d /srv && hostname && pwd && touch /srv/x"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode == 0 || string(res.Stdout) != "custom-host\n/workspace\n" {
		t.Fatalf("rootfs: %+v", res)
	}
}

func TestStartStreams(t *testing.T) {
	s := startSandbox(t, "", nil)
	p, err := s.Start(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c", "echo a; sleep 1; echo b; echo e >&2; exit 4"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.PID <= 1 {
		t.Fatalf("pid %d", p.PID)
	}
	buf := make([]byte, 100)
	n, err := p.Stdout.Read(buf)
	if err != nil || string(buf[:n]) != "a\n" {
		t.Fatalf("first chunk %q %v", buf[:n], err)
	}
	select {
	case <-p.exited:
		t.Fatal("first chunk arrived only after exit")
	default:
	}
	rest, _ := io.ReadAll(p.Stdout)
	errb, _ := io.ReadAll(p.Stderr)
	p.Stdout.Close()
	p.Stderr.Close()
	code, err := p.Wait()
	if string(rest) != "b\n" || string(errb) != "e\n" || code != 4 || err != nil {
		t.Fatalf("rest %q err %q code %d %v", rest, errb, code, err)
	}

	// A command that cannot start still gives a Process.
	p, err = s.Start(context.Background(), ExecRequest{Command: "nope-nope"})
	if err != nil {
		t.Fatal(err)
	}
	errb, _ = io.ReadAll(p.Stderr)
	io.Copy(io.Discard, p.Stdout)
	p.Stdout.Close()
	p.Stderr.Close()
	if code, _ := p.Wait(); code != 127 || !strings.Contains(string(errb), "not found") {
		t.Fatalf("start missing: %d %q", code, errb)
	}
}

func TestStartTimeout(t *testing.T) {
	s := startSandbox(t, "", nil)
	p, err := s.Start(context.Background(), ExecRequest{Command: "sleep", Args: []string{"30"}, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, p.Stdout)
	io.Copy(io.Discard, p.Stderr)
	p.Stdout.Close()
	p.Stderr.Close()
	if code, err := p.Wait(); !errors.Is(err, ErrTimeout) || code != 137 {
		t.Fatalf("Wait: %d %v", code, err)
	}
}

func TestSignal(t *testing.T) {
	s := startSandbox(t, "", nil)
	p, err := s.Start(context.Background(), ExecRequest{Command: "sh", Args: []string{"-c", "sleep 100; echo after"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(p.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	io.Copy(io.Discard, p.Stderr)
	p.Stdout.Close()
	p.Stderr.Close()
	if code, err := p.Wait(); code != 128+15 || err != nil || len(out) != 0 {
		t.Fatalf("after SIGTERM: %d %v %q", code, err, out)
	}
	for _, pid := range []int{0, 1, 99999} {
		if err := s.Signal(pid, syscall.SIGTERM); !errors.Is(err, ErrProcessNotFound) {
			t.Errorf("Signal(%d) = %v", pid, err)
		}
	}
	// The agent itself cannot be signalled through the API.
	if err := s.Signal(s.agentPID, syscall.SIGKILL); !errors.Is(err, ErrProcessNotFound) {
		t.Errorf("Signal(agent) = %v", err)
	}
	// A pid that is not a group leader gets the signal alone.
	res := sh(t, s, "sleep 200 & echo $!")
	pid := 0
	fmt.Sscan(string(res.Stdout), &pid)
	if err := s.Signal(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("Signal(background %d): %v", pid, err)
	}
	eventually(t, "background killed", func() bool { return procsMatching(t, s, "sleep 200") == "" })
}

// ptyReader collects PTY output.
type ptyReader struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
}

func readPTY(f *os.File) *ptyReader {
	r := &ptyReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		b := make([]byte, 4096)
		for {
			n, err := f.Read(b)
			r.mu.Lock()
			r.buf.Write(b[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return r
}

// expect waits until the output after mark contains s and returns the new mark.
func (r *ptyReader) expect(t *testing.T, mark int, s string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		out := r.buf.String()
		r.mu.Unlock()
		if i := strings.Index(out[mark:], s); i >= 0 {
			return mark + i + len(s)
		}
		if time.Now().After(deadline) {
			t.Fatalf("PTY output never contained %q; got %q", s, out[mark:])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPTY(t *testing.T) {
	s := startSandbox(t, "", map[string]string{"PS1": "$ "})
	p, err := s.OpenPTY(context.Background(), PTYRequest{Cols: 90, Rows: 30, Env: map[string]string{"PTY_VAR": "pv"}})
	if err != nil {
		t.Fatal(err)
	}
	r := readPTY(p.Master)
	w := func(s string) {
		if _, err := p.Master.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w("echo h''i $PTY_VAR $TERM\n")
	m := r.expect(t, 0, "hi pv xterm-256color")
	w("stty size; pwd\n")
	m = r.expect(t, m, "30 90")
	m = r.expect(t, m, "/workspace")
	if err := p.Resize(100, 40); err != nil {
		t.Fatal(err)
	}
	w("stty size\n")
	m = r.expect(t, m, "40 100")
	w("sleep 100.5\n")
	eventually(t, "sleep running", func() bool { return procsMatching(t, s, "sleep 100.5") != "" })
	w("\x03")
	w("echo after-$((1+1))\n")
	m = r.expect(t, m, "after-2")
	if procsMatching(t, s, "sleep 100.5") != "" {
		t.Error("sleep survived ^C")
	}
	w("exit 3\n")
	code, err := p.Wait()
	if code != 3 || err != nil {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	<-r.done // EIO once the shell is gone
	_ = m
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal("second Kill:", err)
	}
}

func TestPTYKill(t *testing.T) {
	s := startSandbox(t, "", nil)
	p, err := s.OpenPTY(context.Background(), PTYRequest{Shell: "/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	r := readPTY(p.Master)
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.Wait(); code != 128+9 || err != nil {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	<-r.done
	if _, err := s.OpenPTY(context.Background(), PTYRequest{Shell: "/no/shell"}); err == nil {
		t.Fatal("OpenPTY with a missing shell succeeded")
	}
}

func TestStartErrors(t *testing.T) {
	m := manager(t)
	if _, err := m.Start(context.Background(), Spec{ID: "x", WorkspaceDir: "/nonexistent/dir"}); err == nil {
		t.Error("missing workspace accepted")
	}
	if _, err := m.Start(context.Background(), Spec{WorkspaceDir: workspaceDir(t)}); err == nil {
		t.Error("empty id accepted")
	}
	if _, err := NewManager(Config{RunDir: t.TempDir(), BwrapPath: "/nonexistent/bwrap"}); !errors.Is(err, ErrBwrapMissing) {
		t.Errorf("missing bwrap: %v", err)
	}
	if _, err := NewManager(Config{}); err == nil {
		t.Error("empty RunDir accepted")
	}
	if os.Geteuid() == 0 {
		// A workspace the sandbox uid cannot reach fails with bwrap's reason.
		ws := filepath.Join(t.TempDir(), "ws")
		if err := os.Mkdir(ws, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Dir(ws), 0o700)
		_, err := m.Start(context.Background(), Spec{ID: "hidden", WorkspaceDir: ws})
		if err == nil || !strings.Contains(err.Error(), "Permission denied") {
			t.Errorf("unreachable workspace: %v", err)
		}
		if uid, gid, chown := HostOwner(0, 0); uid != DefaultUID || gid != DefaultUID || !chown {
			t.Errorf("HostOwner(0, 0) = %d %d %v", uid, gid, chown)
		}
		if uid, gid, chown := HostOwner(1234, 5678); uid != 1234 || gid != 5678 || !chown {
			t.Errorf("HostOwner(1234, 5678) = %d %d %v", uid, gid, chown)
		}
	}
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestNoFDLeak(t *testing.T) {
	before := countFDs(t)
	s := startSandbox(t, "", nil)
	for range 5 {
		sh(t, s, "echo x; echo y >&2")
		run(t, s, ExecRequest{Command: "cat", Stdin: []byte("z")})
		run(t, s, ExecRequest{Command: "missing-cmd"})
	}
	s.Run(context.Background(), ExecRequest{Command: "sleep", Args: []string{"10"}, Timeout: 10 * time.Millisecond})
	p, err := s.OpenPTY(context.Background(), PTYRequest{})
	if err != nil {
		t.Fatal(err)
	}
	p.Kill()
	p.Wait()
	s.Stop(0)
	if after := countFDs(t); after != before {
		t.Fatalf("descriptors: %d before, %d after", before, after)
	}
}

func TestManagerClose(t *testing.T) {
	dir, err := os.MkdirTemp(testRunDir, "m2-") // 0700: NewManager makes it searchable
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(Config{RunDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ws := workspaceDir(t)
	var boxes []*Sandbox
	for i := range 3 {
		s, err := m.Start(context.Background(), Spec{ID: fmt.Sprintf("c%d", i), WorkspaceDir: ws})
		if err != nil {
			t.Fatal(err)
		}
		boxes = append(boxes, s)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range boxes {
		select {
		case <-s.Done():
		default:
			t.Fatal("sandbox alive after Manager.Close")
		}
	}
	if _, err := m.Start(context.Background(), Spec{ID: "late", WorkspaceDir: ws}); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

// TestForeignRootFS runs a sandbox whose root filesystem has no libc at
// all: the agent must still start, and commands come from that root.
func TestForeignRootFS(t *testing.T) {
	root := workspaceDir(t)
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "hello.go")
	os.WriteFile(src, []byte("package main\nimport (\"fmt\"; \"os\")\nfunc main() { wd, _ := os.Getwd(); fmt.Println(\"hello from\", wd) }\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", filepath.Join(root, "bin", "hello"), src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	s, err := manager(t).Start(context.Background(), Spec{ID: "foreign", WorkspaceDir: workspaceDir(t), RootFS: root})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(0)
	res := run(t, s, ExecRequest{Command: "hello"})
	if string(res.Stdout) != "hello from /workspace\n" {
		t.Fatalf("hello: %+v", res)
	}
	if res := run(t, s, ExecRequest{Command: "sh"}); res.ExitCode != 127 {
		t.Fatalf("sh in a root without it: %+v", res)
	}
	if res := run(t, s, ExecRequest{Command: "/usr/bin/true"}); res.ExitCode != 127 {
		t.Fatalf("host /usr visible: %+v", res)
	}
}
