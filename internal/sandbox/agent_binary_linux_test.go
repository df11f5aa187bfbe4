//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
)

// buildAgent builds cmd/workspace-agent with the go command (cgo allowed,
// as a default build has it) and returns its path.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "workspace-agent")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/elevo/workspace-sdk-go/cmd/workspace-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build cmd/workspace-agent: %v\n%s", err, out)
	}
	return bin
}

// runDir returns a fresh Config.RunDir the sandbox uid can search.
func runDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(testRunDir, "run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestDedicatedAgent runs a sandbox on cmd/workspace-agent instead of the
// test binary: the binary is static even in a cgo build (the agent
// package links no net or os/user), and it serves commands with stdin and
// exit codes, a missing command, a PTY, signals and a dialed port.
func TestDedicatedAgent(t *testing.T) {
	bin := buildAgent(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("cmd/workspace-agent is dynamically linked: something in internal/sandbox/agent needs cgo")
		}
	}
	f.Close()

	dir := runDir(t)
	m, err := NewManager(Config{RunDir: dir, AgentPath: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := m.Start(context.Background(), Spec{ID: "dedicated-agent", WorkspaceDir: workspaceDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	res, err := s.Run(ctx, ExecRequest{Command: "sh", Args: []string{"-c", "cat; echo err >&2; exit 3"}, Stdin: []byte("in")})
	if err != nil || res.ExitCode != 3 || string(res.Stdout) != "in" || string(res.Stderr) != "err\n" {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	res, err = s.Run(ctx, ExecRequest{Command: "no-such-command"})
	if err != nil || res.ExitCode != 127 || !strings.Contains(string(res.Stderr), "command not found") {
		t.Fatalf("missing command = %+v, %v", res, err)
	}
	res, err = s.Run(ctx, ExecRequest{Command: "cat", Args: []string{"/proc/1/cmdline"}})
	if err != nil || string(res.Stdout) != agent.PathInSandbox+"\x00"+agent.Arg+"\x00" {
		t.Fatalf("pid 1 cmdline = %q, %v", res.Stdout, err)
	}

	// A process killed through Signal reports 128+signal.
	p, err := s.Start(ctx, ExecRequest{Command: "sleep", Args: []string{"100"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Signal(p.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, p.Stdout)
	io.Copy(io.Discard, p.Stderr)
	p.Stdout.Close()
	p.Stderr.Close()
	if code, err := p.Wait(); code != 128+int(syscall.SIGTERM) || err != nil {
		t.Fatalf("killed sleep: %d, %v", code, err)
	}

	pty, err := s.OpenPTY(ctx, PTYRequest{Shell: "/bin/sh"})
	if err != nil {
		t.Fatal(err)
	}
	r := readPTY(pty.Master)
	if _, err := pty.Master.Write([]byte("echo pty-$((40+2))\n")); err != nil {
		t.Fatal(err)
	}
	r.expect(t, 0, "pty-42")
	if _, err := pty.Master.Write([]byte("exit 5\n")); err != nil {
		t.Fatal(err)
	}
	if code, err := pty.Wait(); code != 5 || err != nil {
		t.Fatalf("PTY Wait = %d, %v", code, err)
	}
	<-r.done
	pty.Kill()

	if _, err := s.DialPort(ctx, 9); !errors.Is(err, ErrPortNotReachable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialPort(9) = %v, want ErrPortNotReachable and ECONNREFUSED", err)
	}
	sh(t, s, "echo dedicated > /workspace/index.html")
	srv, err := s.Start(ctx, ExecRequest{
		Command: "/usr/bin/python3", Args: []string{"-m", "http.server", "--bind", "127.0.0.1", "8124"}, Cwd: "/workspace",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill(); srv.Wait() })
	var body string
	eventually(t, "HTTP answer through DialPort", func() bool {
		c, err := s.DialPort(ctx, 8124)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return true
	})
	if strings.TrimSpace(body) != "dedicated" {
		t.Fatalf("body %q", body)
	}
	if err := s.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestAgentProbeRefusesOtherBinaries: a binary that is not this version's
// agent fails NewManager with a message that says what to use.
func TestAgentProbeRefusesOtherBinaries(t *testing.T) {
	dir := runDir(t)
	_, err := NewManager(Config{RunDir: dir, AgentPath: "/bin/echo"})
	if err == nil || !strings.Contains(err.Error(), "cmd/workspace-agent") {
		t.Fatalf("NewManager with /bin/echo as agent: %v", err)
	}
}
