//go:build !unix

package main

import "context"

// watchResize does nothing where there is no SIGWINCH (Windows): the
// remote terminal keeps the size it had when the shell started.
func watchResize(context.Context, int, func(cols, rows int)) (stop func()) {
	return func() {}
}
