// Command workspace is the command line of the Elevo Workspace service,
// built on the public Go SDK: workspaces, sandboxes, commands, interactive
// shells, file transfer, and the reference server itself ("workspace
// serve").
//
// Install it with
//
//	go install github.com/elevo/workspace-sdk-go/cmd/workspace@latest
//
// It reads the server's address from WORKSPACE_API_URL (default
// http://localhost:8080), the API key from WORKSPACE_API_KEY and the
// per-request timeout from WORKSPACE_TIMEOUT; the flags --api-url,
// --api-key and --timeout override them. Human tables go to stdout by
// default, "-o json" prints JSON for scripts; errors go to stderr with a
// non-zero exit status ("workspace exec" exits with the remote command's
// status). Run "workspace help" for the list of commands.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, terminateSignal)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitStatus(err, stderr)
}
