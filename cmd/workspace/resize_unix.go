//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// watchResize calls resize with the terminal's new size on every SIGWINCH
// until the returned stop function is called (which waits for the
// watcher's goroutine) or ctx ends.
func watchResize(ctx context.Context, fd int, resize func(cols, rows int)) (stop func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGWINCH)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-sig:
				if cols, rows, err := term.GetSize(fd); err == nil && cols > 0 && rows > 0 {
					resize(cols, rows)
				}
			case <-quit:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		close(quit)
		<-done
	}
}
