package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/workspacetest"
)

func TestExecExitCodeAndStreams(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)

	r := cli(t, srv, nil, "exec", sb, "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if r.code != 7 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, srv, nil, "exec", sb, "-e", "X=42", "-w", "/tmp", "--", "sh", "-c", "echo $X $(pwd)")
	if r.code != 0 || r.stdout != "42 /tmp\n" {
		t.Fatalf("exec -e -w: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Stdin from a pipe reaches the command (binary-safe).
	in := []byte("line one\nline two\x00\xff\n")
	r = cli(t, srv, bytes.NewReader(in), "exec", sb, "--", "cat")
	if r.code != 0 || r.stdout != string(in) {
		t.Fatalf("exec with stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// --no-stdin: the command reads end of file at once.
	r = cli(t, srv, strings.NewReader("ignored"), "exec", sb, "--no-stdin", "--", "wc", "-c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "0" {
		t.Fatalf("exec --no-stdin: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Over the stdin bound: a clear error before anything runs.
	r = cli(t, srv, bytes.NewReader(make([]byte, maxExecStdin+1)), "exec", sb, "--", "cat")
	if r.code != 1 || !strings.Contains(r.stderr, "workspace cp") {
		t.Fatalf("exec with too much stdin: exit %d, stderr %q", r.code, r.stderr)
	}
	// A missing sandbox: the SDK's error, exit 1.
	fails(t, srv, 1, "code 2001", "exec", "no-such-sandbox", "--", "true")
	fails(t, srv, 2, "requires at least 2", "exec", "--", "true")
	fails(t, srv, 2, "usage: workspace exec", "exec", sb, "sh", "--", "-c", "true")
}

// lockedBuffer is a bytes.Buffer safe for a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestExecInterruptKillsRemote: Ctrl-C (SIGINT) ends exec with status 130
// and the server kills the remote process.
func TestExecInterruptKillsRemote(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary, "exec", sb, "--", "sh", "-c", "echo started; exec sleep 3600")
	cmd.Env = cliEnv(srv)
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the remote command to start", func() bool { return strings.Contains(out.String(), "started") })
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != exitInterrupted || !strings.Contains(errb.String(), "interrupted") {
		t.Fatalf("after SIGINT: %v, exit %d, stderr %q", err, cmd.ProcessState.ExitCode(), errb.String())
	}
	// The remote sleep is gone: no process in the sandbox runs it.
	waitFor(t, time.Minute, "the remote sleep to be killed", func() bool {
		r := cli(t, srv, nil, "exec", sb, "--", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\000' ' '")
		return r.code == 0 && !strings.Contains(r.stdout, "sleep 3600")
	})
}

// TestExecBaseMode: against a server with no extensions (as upstream),
// exec still prints the output and exits with the command's status; a
// piped stdin fails with the SDK's "unsupported" error instead of being
// dropped.
func TestExecBaseMode(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey(testKey), workspacetest.WithBaseMode())
	_, sb := newSandbox(t, srv)
	r := cli(t, srv, nil, "exec", sb, "--", "sh", "-c", "echo base; exit 2")
	if r.code != 2 || r.stdout != "base\n" {
		t.Fatalf("exec on a base server: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, srv, strings.NewReader("x"), "exec", sb, "--", "cat")
	if r.code != 1 || !strings.Contains(r.stderr, "process.stdin") {
		t.Fatalf("exec with stdin on a base server: exit %d, stderr %q", r.code, r.stderr)
	}
}
