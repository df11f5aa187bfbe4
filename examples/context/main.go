// Command context is the Go counterpart of the Python SDK's async example:
// where Python has an async client, Go has one client that is safe for
// concurrent use, goroutines, and a context.Context on every call. This
// program shows deadlines, cancelling a long command from another goroutine,
// and a group of goroutines that is cancelled by its first failure. When a
// call's ctx ends, the SDK stops waiting and the server kills the command.
//
//	go run ./examples/context
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout)
	})
}

func run(ctx context.Context, c *workspace.Client, out io.Writer) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "context-demo"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created workspace: %s\n", ws.ID)
	defer func() {
		err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID))
	}()
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Template: "workspace-test:latest"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created sandbox: %s\n", sbx.ID)
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()

	// A deadline for one wait: the sandbox is already running here, so
	// this returns at once; a sandbox that never came up would end it
	// with context.DeadlineExceeded.
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	sbx, err = c.Sandbox.WaitForState(wctx, sbx.ID, workspace.StateRunning)
	cancel()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Sandbox state: %s\n", sbx.State)

	if err := deadline(ctx, c, sbx.ID, out); err != nil {
		return err
	}
	if err := cancelFromGoroutine(ctx, c, ws.ID, sbx.ID, out); err != nil {
		return err
	}
	return firstFailureCancels(ctx, c, sbx.ID, out)
}

// deadline bounds a long command with context.WithTimeout.
func deadline(ctx context.Context, c *workspace.Client, sandboxID string, out io.Writer) error {
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Process.Run(dctx, sandboxID, "sleep", &workspace.RunCommandOptions{Args: []string{"30"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("run past its deadline: want context.DeadlineExceeded, got %v", err)
	}
	fmt.Fprintf(out, "Deadline: gave up on sleep 30 after %v: %v\n", time.Since(start).Round(10*time.Millisecond), err)
	// The server noticed that the client went away and killed the command.
	if err := waitGone(ctx, c, sandboxID, "sleep 30"); err != nil {
		return err
	}
	fmt.Fprintln(out, "Deadline: the server killed sleep 30")
	return nil
}

// cancelFromGoroutine runs a long command in a goroutine and cancels it from
// here once it has started.
func cancelFromGoroutine(ctx context.Context, c *workspace.Client, workspaceID, sandboxID string, out io.Writer) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Process.Run(cctx, sandboxID, "sh", &workspace.RunCommandOptions{
			Args: []string{"-c", "touch /workspace/started && exec sleep 31"},
		})
		done <- err
	}()
	// The command marks the shared workspace when it has started.
	for {
		ok, err := c.Workspace.Exists(ctx, workspaceID, "started")
		if err != nil {
			cancel()
			<-done
			return err
		}
		if ok {
			break
		}
		select {
		case err := <-done:
			return fmt.Errorf("the long command ended before it was cancelled: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		return fmt.Errorf("cancelled run: want context.Canceled, got %v", err)
	}
	fmt.Fprintf(out, "Cancel: sleep 31 stopped: %v\n", err)
	if err := waitGone(ctx, c, sandboxID, "sleep 31"); err != nil {
		return err
	}
	fmt.Fprintln(out, "Cancel: the server killed sleep 31")
	return nil
}

// firstFailureCancels runs commands in goroutines under one context that
// the first failure cancels, the pattern of golang.org/x/sync/errgroup.
func firstFailureCancels(ctx context.Context, c *workspace.Client, sandboxID string, out io.Writer) error {
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := []struct{ name, script string }{
		{"quick", "echo done"},
		{"slow-1", "sleep 32"},
		{"slow-2", "sleep 32"},
		{"failing", "sleep 0.5; echo broken >&2; exit 1"},
	}
	results := make([]string, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		wg.Go(func() {
			stdout, err := c.Process.Exec(gctx, sandboxID, "sh", "-c", job.script)
			switch {
			case err == nil:
				results[i] = "ok: " + strings.TrimSpace(stdout)
			case errors.Is(err, context.Canceled):
				results[i] = "cancelled"
			default:
				results[i] = "failed: " + err.Error()
				cancel(fmt.Errorf("%s: %w", job.name, err))
			}
		})
	}
	wg.Wait()
	for i, job := range jobs {
		fmt.Fprintf(out, "Group: %s %s\n", job.name, results[i])
	}
	var exitErr *workspace.ExitError
	cause := context.Cause(gctx)
	if !errors.As(cause, &exitErr) {
		return fmt.Errorf("group: want an *ExitError as the cause, got %v", cause)
	}
	fmt.Fprintf(out, "Group: cancelled by %v (exit code %d)\n", cause, exitErr.ExitCode)
	return waitGone(ctx, c, sandboxID, "sleep 32")
}

// waitGone polls the sandbox's process table until no process whose
// command line starts with prefix is left, for up to 10 seconds.
func waitGone(ctx context.Context, c *workspace.Client, sandboxID, prefix string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	script := `for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f"; echo; done 2>/dev/null | grep -c "^$PREFIX" || true`
	for {
		res, err := c.Process.Shell(ctx, sandboxID, script, &workspace.RunCommandOptions{Env: map[string]string{"PREFIX": prefix}})
		if err != nil {
			return fmt.Errorf("waiting for %q to end: %w", prefix, err)
		}
		if strings.TrimSpace(res.Stdout) == "0" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%q still runs in the sandbox: %w", prefix, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
