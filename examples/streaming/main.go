// Command streaming mirrors the Python SDK's examples/streaming.py: it
// follows a log file with `tail -f` inside a sandbox, printing each chunk
// of output as it arrives, while another goroutine appends to the log; once
// the last expected line is seen it stops tail by the pid from the stream's
// start event (SIGTERM), and prints the exit code.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/streaming
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, c *workspace.Client, stdout, stderr io.Writer) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "streaming-example"})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID)) }()
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()

	// The workspace is mounted at /workspace, tail's working directory.
	if err := c.Workspace.WriteFile(ctx, ws.ID, "app.log", []byte("app started\n")); err != nil {
		return err
	}

	// The writer appends a few lines once tail is running. It is joined
	// before run returns; its error, if any, is reported.
	var wg sync.WaitGroup
	var writeErr error
	defer func() { wg.Wait(); err = errors.Join(err, writeErr) }()
	appendLines := func() {
		defer wg.Done()
		for i := 1; i <= 3; i++ {
			line := fmt.Sprintf("request %d handled", i)
			if _, err := c.Process.Exec(ctx, sbx.ID, "sh", "-c", "echo '"+line+"' >> app.log"); err != nil {
				writeErr = err
				return
			}
		}
	}

	// Stream command output: the loop body is the Python example's.
	var pid int
	var seen strings.Builder
	opts := &workspace.RunCommandOptions{Args: []string{"-n", "+1", "-f", "app.log"}}
	for event, err := range c.Process.RunStream(ctx, sbx.ID, "tail", opts) {
		if err != nil {
			return err
		}
		switch event.Type {
		case workspace.EventStart:
			pid = event.PID
			fmt.Fprintf(stdout, "Started tail -f (pid %d)\n", pid)
			wg.Add(1)
			go appendLines()
		case workspace.EventStdout:
			fmt.Fprint(stdout, string(event.Data))
			seen.Write(event.Data)
			if strings.Contains(seen.String(), "request 3 handled\n") {
				// Kill a process: the stream then ends with its exit.
				if err := c.Process.Kill(ctx, sbx.ID, pid, workspace.SIGTERM); err != nil {
					return err
				}
			}
		case workspace.EventStderr:
			fmt.Fprint(stderr, string(event.Data))
		case workspace.EventExit:
			fmt.Fprintf(stdout, "\nExited with code: %d\n", event.Code)
		case workspace.EventError:
			fmt.Fprintf(stdout, "Error: %s\n", event.Message)
		}
	}
	return nil
}
