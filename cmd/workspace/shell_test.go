//go:build unix

package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// ptyProcess is the command running on a local pseudo-terminal, as a
// person at a terminal would run it.
type ptyProcess struct {
	cmd    *exec.Cmd
	tty    *os.File // the terminal's master side
	out    lockedBuffer
	copied chan struct{}
}

func startOnPTY(t *testing.T, srv *workspacetest.Server, rows, cols uint16, args ...string) *ptyProcess {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, cliBinary, args...)
	cmd.Env = append(cliEnv(srv), "TERM=xterm")
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	p := &ptyProcess{cmd: cmd, tty: tty, copied: make(chan struct{})}
	go func() {
		defer close(p.copied)
		_, _ = io.Copy(&p.out, tty) // ends with EIO once the command exits
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tty.Close()
		<-p.copied
	})
	return p
}

func (p *ptyProcess) send(t *testing.T, s string) {
	t.Helper()
	if _, err := p.tty.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// expect waits until the terminal showed want.
func (p *ptyProcess) expect(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows:\n%s", want, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retry types line until the terminal shows want: for what the remote
// side does asynchronously (a resize, the handling of Ctrl-C, which
// flushes typed-ahead input).
func (p *ptyProcess) retry(t *testing.T, line, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q; it shows:\n%s", want, p.out.String())
		}
		p.send(t, line)
		time.Sleep(200 * time.Millisecond)
	}
}

// exitCode waits for the command to end and returns its status.
func (p *ptyProcess) exitCode(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	<-p.copied
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestShellOnTerminal drives "workspace shell" through a pseudo-terminal:
// raw mode (Ctrl-C reaches the remote shell), the initial size, a live
// resize, and the remote exit status as ours.
func TestShellOnTerminal(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)

	p := startOnPTY(t, srv, 30, 100, "shell", sb, "--shell", "/bin/sh")
	p.send(t, "stty size\n")
	p.expect(t, "30 100")

	// Ctrl-C interrupts the remote sleep, not the local command.
	p.send(t, "echo start-$((5*5)); sleep 600\n")
	p.expect(t, "start-25")
	p.send(t, "\x03")
	p.retry(t, "echo after-$((3*3))\n", "after-9")

	// Resizing the local terminal (SIGWINCH) resizes the remote one.
	if err := pty.Setsize(p.tty, &pty.Winsize{Rows: 40, Cols: 120}); err != nil {
		t.Fatal(err)
	}
	p.retry(t, "stty size\n", "40 120")

	p.send(t, "exit 3\n")
	if code := p.exitCode(t); code != 3 {
		t.Fatalf("exit status %d, want the shell's 3\n%s", code, p.out.String())
	}
}

// TestShellDetachAttach: Ctrl-] detaches and leaves the shell running;
// --attach comes back to it.
func TestShellDetachAttach(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)

	p := startOnPTY(t, srv, 24, 80, "shell", sb, "--shell", "/bin/sh")
	p.send(t, "MARK=kept; echo mark-$((1+1))\n")
	p.expect(t, "mark-2")
	p.send(t, "\x1d")
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("detach: exit %d\n%s", code, p.out.String())
	}
	m := regexp.MustCompile(`--attach (\S+)`).FindStringSubmatch(p.out.String())
	if m == nil {
		t.Fatalf("detach did not print the PTY id:\n%s", p.out.String())
	}

	q := startOnPTY(t, srv, 24, 80, "shell", sb, "--attach", m[1])
	q.send(t, "echo back-$MARK-$((2+3))\n")
	q.expect(t, "back-kept-5")
	q.send(t, "exit\n")
	if code := q.exitCode(t); code != 0 {
		t.Fatalf("attach: exit %d\n%s", code, q.out.String())
	}
	fails(t, srv, 1, "code 4101", "shell", sb, "--attach", m[1])
}

// TestShellFromPipe: without a terminal the shell reads the piped input and
// its end of file.
func TestShellFromPipe(t *testing.T) {
	srv := newServer(t)
	_, sb := newSandbox(t, srv)
	r := cli(t, srv, strings.NewReader("echo piped-$((4*4))\nexit 5\n"), "shell", sb, "--shell", "/bin/sh")
	if r.code != 5 || !strings.Contains(r.stdout, "piped-16") {
		t.Fatalf("shell from a pipe: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}
