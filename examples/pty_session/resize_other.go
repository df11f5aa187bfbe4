//go:build !unix

package main

import (
	"context"

	workspace "github.com/elevo/workspace-sdk-go"
)

// watchResize does nothing where there is no SIGWINCH: the remote
// terminal keeps the size it was opened with.
func watchResize(ctx context.Context, pty *workspace.PTYSession) (stop func()) { return func() {} }
