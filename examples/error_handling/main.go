// Command error_handling shows how to tell the workspace SDK's errors apart:
// errors.Is with the sentinels (workspace.ErrSandboxNotFound and friends),
// errors.As with *workspace.Error for the code, HTTP status and message, and
// *workspace.ExitError for a command that exited non-zero.
//
//	go run ./examples/error_handling
//
// Each step checks that the server answered with the error it expects, so
// the program fails (exit status 1) when one does not.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout)
	})
}

// describe prints what an API error carries: errors.As reaches the
// *workspace.Error however deeply it is wrapped.
func describe(out io.Writer, err error) {
	var apiErr *workspace.Error
	if errors.As(err, &apiErr) {
		fmt.Fprintf(out, "  API error: HTTP %d, code %d, message %q\n", apiErr.StatusCode, apiErr.Code, apiErr.Message)
	}
}

func run(ctx context.Context, c *workspace.Client, out io.Writer) (err error) {
	// 1. A sandbox that does not exist. errors.Is matches the precise
	// sentinel and the broad ErrNotFound (any 404).
	_, err = c.Sandbox.Get(ctx, "no-such-sandbox")
	switch {
	case errors.Is(err, workspace.ErrSandboxNotFound):
		fmt.Fprintln(out, "Sandbox not found:", err)
		describe(out, err)
	case err == nil:
		return errors.New("getting a missing sandbox succeeded")
	default:
		return fmt.Errorf("getting a missing sandbox: unexpected error: %w", err)
	}
	if !errors.Is(err, workspace.ErrNotFound) {
		return fmt.Errorf("%v is not an ErrNotFound", err)
	}
	// Exists turns "not found" into false and returns every other error.
	ok, err := c.Sandbox.Exists(ctx, "no-such-sandbox")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Sandbox exists:", ok)

	// 2. A workspace that does not exist.
	_, err = c.Workspace.Get(ctx, "no-such-workspace")
	if !errors.Is(err, workspace.ErrWorkspaceNotFound) {
		return fmt.Errorf("getting a missing workspace: want ErrWorkspaceNotFound, got %v", err)
	}
	fmt.Fprintln(out, "Workspace not found:", err)

	// A workspace and a sandbox for the next steps.
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "errors-demo"})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID))
	}()

	// 3. A template the server does not know.
	_, err = c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Template: "no-such-template:latest"})
	if !errors.Is(err, workspace.ErrTemplateNotFound) {
		return fmt.Errorf("unknown template: want ErrTemplateNotFound, got %v", err)
	}
	fmt.Fprintln(out, "Template not found:", err)

	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Template: "workspace-test:latest"})
	if err != nil {
		return err
	}
	sandboxDeleted := false
	defer func() {
		if !sandboxDeleted {
			err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
		}
	}()

	// 4. Workspace deletion protection: a workspace in use by a running
	// sandbox cannot be deleted (code 7002).
	err = c.Workspace.Delete(ctx, ws.ID)
	if !errors.Is(err, workspace.ErrWorkspaceHasActiveSandboxes) {
		return fmt.Errorf("deleting a workspace in use: want ErrWorkspaceHasActiveSandboxes, got %v", err)
	}
	fmt.Fprintln(out, "Workspace has active sandboxes:", err)
	describe(out, err)

	// 5. A command that exits non-zero. Run reports the exit code in its
	// result; Exec, which returns only stdout, returns an *ExitError.
	res, err := c.Process.Run(ctx, sbx.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "echo oops >&2; exit 3"}})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Run: exit code %d, stderr %q\n", res.ExitCode, res.Stderr)
	_, err = c.Process.Exec(ctx, sbx.ID, "sh", "-c", "echo oops >&2; exit 3")
	var exitErr *workspace.ExitError
	if !errors.As(err, &exitErr) {
		return fmt.Errorf("exec of a failing command: want *ExitError, got %v", err)
	}
	fmt.Fprintf(out, "Exec: %v (exit code %d, stderr %q)\n", err, exitErr.ExitCode, exitErr.Stderr)

	// 6. A command that outlives its timeout is killed by the server.
	_, err = c.Process.Run(ctx, sbx.ID, "sleep", &workspace.RunCommandOptions{Args: []string{"30"}, Timeout: 200 * time.Millisecond})
	if !errors.Is(err, workspace.ErrProcessTimeout) {
		return fmt.Errorf("command past its timeout: want ErrProcessTimeout, got %v", err)
	}
	fmt.Fprintln(out, "Process timeout:", err)

	// 7. A file that does not exist.
	_, err = c.Workspace.ReadFile(ctx, ws.ID, "missing.txt")
	if !errors.Is(err, workspace.ErrFileNotFound) {
		return fmt.Errorf("reading a missing file: want ErrFileNotFound, got %v", err)
	}
	fmt.Fprintln(out, "File not found:", err)
	exists, err := c.Workspace.Exists(ctx, ws.ID, "missing.txt")
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "File exists:", exists)

	// 8. A path that leaves the workspace is refused, never rewritten.
	_, err = c.Workspace.ReadFile(ctx, ws.ID, "../../etc/passwd")
	if !errors.Is(err, workspace.ErrPathNotAllowed) {
		return fmt.Errorf("reading outside the workspace: want ErrPathNotAllowed, got %v", err)
	}
	fmt.Fprintln(out, "Path not allowed:", err)

	// 9. A deleted sandbox is gone: calls on it are ErrSandboxNotFound.
	if err := c.Sandbox.Delete(ctx, sbx.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
		return err
	}
	sandboxDeleted = true
	_, err = c.Process.Exec(ctx, sbx.ID, "true")
	if !errors.Is(err, workspace.ErrSandboxNotFound) {
		return fmt.Errorf("exec in a deleted sandbox: want ErrSandboxNotFound, got %v", err)
	}
	fmt.Fprintln(out, "Exec in a deleted sandbox:", err)
	return nil
}
