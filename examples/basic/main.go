// Command basic is the Quick Start of the workspace SDK: create a workspace
// (persistent storage), start a sandbox bound to it, run a command in the
// sandbox, write and read a file, and clean up.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/basic
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout)
	})
}

func run(ctx context.Context, c *workspace.Client, out io.Writer) (err error) {
	// Create a workspace (persistent storage).
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{
		Name: "my-workspace",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created workspace: %s\n", ws.ID)
	// Cleanup runs even when a step below fails; a canceled ctx must not
	// prevent it, hence context.WithoutCancel.
	defer func() {
		err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID))
	}()

	// Create a sandbox bound to the workspace.
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{
		WorkspaceID: ws.ID,
		Template:    "workspace-test:latest",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Created sandbox: %s\n", sbx.ID)
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()

	// Run a command.
	result, err := c.Process.Run(ctx, sbx.ID, "echo", &workspace.RunCommandOptions{
		Args: []string{"Hello", "World"},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Output: %s\n", strings.TrimSuffix(result.Stdout, "\n"))

	// Write a file to the workspace.
	if err := c.Workspace.WriteFile(ctx, ws.ID, "hello.txt", []byte("Hello, World!")); err != nil {
		return err
	}

	// Read the file.
	content, err := c.Workspace.ReadFile(ctx, ws.ID, "hello.txt")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "File content: %s\n", content)
	return nil
}
