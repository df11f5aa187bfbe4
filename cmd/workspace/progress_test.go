//go:build unix

package main

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestCpProgressOnTerminal: with stderr on a terminal, cp draws a progress
// bar there up to 100% (with stderr in a pipe it stays silent, see
// TestCpTreeRoundTrip).
func TestCpProgressOnTerminal(t *testing.T) {
	srv := newServer(t)
	ws := strings.TrimSpace(ok(t, srv, "create"))
	src := t.TempDir()
	makeTree(t, src)

	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	var bar lockedBuffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(&bar, master) // ends with EIO once the slave is closed
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBinary, "cp", src, ws+":up")
	cmd.Env = cliEnv(srv)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, slave
	err = cmd.Run()
	slave.Close()
	<-copied
	if err != nil {
		t.Fatalf("cp: %v\n%s", err, bar.String())
	}
	if !strings.Contains(bar.String(), "100%") || !strings.Contains(bar.String(), "copying") || out.Len() != 0 {
		t.Fatalf("progress bar on the terminal: %q; stdout %q", bar.String(), out.String())
	}
}
