//go:build linux

package sandbox

import (
	"context"
	"errors"
	"os"
	"time"
)

// WriteStdin writes b to the stdin of a process started with
// ExecRequest.OpenStdin, after its initial Stdin bytes. It blocks while the
// pipe is full, until ctx ends; writes after CloseStdin or the exit fail.
func (p *Process) WriteStdin(ctx context.Context, b []byte) error {
	if p.stdin == nil {
		return errors.New("sandbox: stdin is not open")
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = p.stdin.SetWriteDeadline(time.Now()) })
	_, err := p.stdin.Write(b)
	if !stop() {
		_ = p.stdin.SetWriteDeadline(time.Time{})
		if err != nil {
			err = ctx.Err()
		}
	}
	return err
}

// CloseStdin closes the stdin of a process started with
// ExecRequest.OpenStdin, after pending writes; the process then reads EOF.
func (p *Process) CloseStdin() error {
	if p.stdin == nil {
		return errors.New("sandbox: stdin is not open")
	}
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	err := p.stdin.Close()
	if errors.Is(err, os.ErrClosed) {
		return nil
	}
	return err
}
