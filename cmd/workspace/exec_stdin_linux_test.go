//go:build linux

package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestExecInterruptWhileReadingStdin: Ctrl-C ends exec even while a pipe's
// writer keeps its stdin open.
func TestExecInterruptWhileReadingStdin(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	// No server is needed: the command is still reading its stdin.
	cmd := exec.CommandContext(ctx, cliBinary, "exec", "some-sandbox", "--", "cat")
	cmd.Env = cliEnv(nil)
	cmd.Stdin = pr
	var errb lockedBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pw.WriteString("partial input"); err != nil {
		t.Fatal(err)
	}
	// Once the command has read the pipe it is in its stdin read, past
	// the set-up of its signal handling.
	waitFor(t, time.Minute, "exec to read its stdin", func() bool {
		n, err := unix.IoctlGetInt(int(pr.Fd()), unix.TIOCINQ) // FIONREAD: bytes left in the pipe
		return err == nil && n == 0
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted || !strings.Contains(errb.String(), "interrupted while reading stdin") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
}
