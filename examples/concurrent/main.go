// Command concurrent starts three sandboxes that share one workspace, runs
// commands in all of them at once from goroutines, shows that they see each
// other's files under /workspace, and cleans up: sandboxes first, then the
// workspace. One *workspace.Client serves every goroutine.
//
//	go run ./examples/concurrent
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

const workers = 3

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout)
	})
}

// forEach calls fn(i) for i in [0, n) concurrently and joins their errors.
func forEach(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func run(ctx context.Context, c *workspace.Client, out io.Writer) (err error) {
	// Create a shared workspace.
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "shared-workspace"})
	if err != nil {
		return err
	}
	defer func() {
		// Then delete the workspace (after the sandboxes: see below).
		err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID))
	}()

	// Create several sandboxes sharing the same workspace, concurrently.
	sandboxes := make([]*workspace.Sandbox, workers)
	defer func() {
		// Clean up all sandboxes first, concurrently; those that were
		// never created are nil.
		err = errors.Join(err, forEach(workers, func(i int) error {
			if sandboxes[i] == nil {
				return nil
			}
			return c.Sandbox.Delete(context.WithoutCancel(ctx), sandboxes[i].ID, &workspace.DeleteSandboxOptions{Force: true})
		}))
	}()
	err = forEach(workers, func(i int) error {
		sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{
			WorkspaceID: ws.ID,
			Template:    "workspace-test:latest",
			Name:        fmt.Sprintf("worker-%d", i),
		})
		sandboxes[i] = sbx
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created %d sandboxes sharing workspace %s\n", len(sandboxes), ws.ID)

	// Run commands in all sandboxes concurrently. Each also leaves a file
	// in the shared /workspace.
	results := make([]*workspace.CommandResult, workers)
	err = forEach(workers, func(i int) error {
		res, err := c.Process.Shell(ctx, sandboxes[i].ID,
			`echo "Worker $N"; echo "written by $WORKSPACE_SANDBOX_ID" > "/workspace/worker-$N.txt"`,
			&workspace.RunCommandOptions{Env: map[string]string{"N": fmt.Sprint(i)}})
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("worker %d: exit code %d: %s", i, res.ExitCode, res.Stderr)
		}
		results[i] = res
		return err
	})
	if err != nil {
		return err
	}
	for i, res := range results {
		fmt.Fprintf(out, "Worker %d: %s\n", i, strings.TrimSpace(res.Stdout))
	}

	// Every sandbox sees the files that the others wrote.
	listing, err := c.Process.Exec(ctx, sandboxes[0].ID, "ls", "/workspace")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Sandbox 0 sees: %s\n", strings.Join(strings.Fields(listing), " "))
	files, err := c.Workspace.ListFiles(ctx, ws.ID, "")
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := c.Workspace.ReadFile(ctx, ws.ID, f.Path)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s", f.Name, data)
	}
	return nil
}
