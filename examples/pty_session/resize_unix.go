//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	workspace "github.com/elevo/workspace-sdk-go"
)

// watchResize resizes the remote terminal whenever the local one changes
// size (SIGWINCH). The returned stop function ends the watch and waits for
// it.
func watchResize(ctx context.Context, pty *workspace.PTYSession) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ch:
				cols, rows, err := term.GetSize(int(os.Stdout.Fd()))
				if err != nil {
					continue
				}
				rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_ = pty.Resize(rctx, cols, rows) // a failed resize is not fatal
				cancel()
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
