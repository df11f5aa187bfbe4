package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// detachKey is Ctrl-], the byte that detaches from a shell (as telnet's
// escape): the shell keeps running and "--attach ID" comes back to it.
const detachKey = 0x1d

// eofKey is Ctrl-D, sent when a piped (non-terminal) stdin ends, so the
// remote shell sees end of input.
const eofKey = 0x04

// shellOptions are the flags of "workspace shell".
type shellOptions struct {
	attach string
	shell  string
	env    []string
}

// shellCmd is "workspace shell SANDBOX": an interactive terminal.
func (a *app) shellCmd() *cobra.Command {
	o := &shellOptions{}
	cmd := &cobra.Command{
		Use:   "shell SANDBOX [--attach PTY] [--shell PROGRAM]",
		Short: "Open an interactive shell (a PTY) in a sandbox; Ctrl-] detaches",
		Long: `Open an interactive shell in a sandbox. The local terminal is put in raw
mode, so every key (Ctrl-C included) goes to the remote shell, and resizing
the window resizes the remote terminal (not on Windows).

Ctrl-] detaches: the shell keeps running and workspace prints its PTY id;
"workspace shell SANDBOX --attach ID" comes back to it, with the output
produced meanwhile. When the shell exits, workspace exits with its status.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.shell(cmd.Context(), args[0], o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.attach, "attach", "", "attach to this existing PTY instead of starting a shell")
	f.StringVar(&o.shell, "shell", "", "program to run (default the server's: /bin/bash or /bin/sh)")
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	return cmd
}

func (a *app) shell(ctx context.Context, sandboxID string, o *shellOptions) error {
	env, err := parseKeyValues("-e", o.env)
	if err != nil {
		return err
	}
	inFd, isTerm := terminalFd(a.stdin)
	sizeFd := inFd
	if fd, ok := terminalFd(a.stdout); ok {
		sizeFd = fd
	}
	cols, rows := 0, 0
	if isTerm {
		cols, rows, _ = term.GetSize(sizeFd)
	}
	return a.withClient(func(c *workspace.Client) error {
		var sess *workspace.PTYSession
		var err error
		if o.attach != "" {
			sess, err = c.PTY.Attach(ctx, sandboxID, o.attach)
			if err == nil && cols > 0 && rows > 0 {
				err = sess.Resize(ctx, cols, rows)
			}
		} else {
			sess, err = c.PTY.Connect(ctx, sandboxID, &workspace.PTYOptions{Cols: cols, Rows: rows, Shell: o.shell, Env: env})
		}
		if err != nil {
			if sess != nil {
				sess.Close()
			}
			return err
		}
		defer sess.Close()

		if isTerm {
			old, err := term.MakeRaw(inFd)
			if err != nil {
				return fmt.Errorf("raw terminal mode: %w", err)
			}
			defer term.Restore(inFd, old)
			stopResize := watchResize(ctx, sizeFd, func(cols, rows int) { _ = sess.Resize(ctx, cols, rows) })
			defer stopResize()
		}

		outDone := make(chan error, 1)
		go func() {
			_, err := io.Copy(a.stdout, sess)
			outDone <- err
		}()
		detached := make(chan struct{})
		go pumpInput(a.stdin, sess, isTerm, detached)

		select {
		case err := <-outDone:
			code, werr := sess.Wait(ctx)
			if werr != nil {
				return errors.Join(werr, err)
			}
			if code != 0 {
				return &exitCodeError{code: code}
			}
			return nil
		case <-detached:
			sess.Detach()
			<-outDone
			msg := fmt.Sprintf("detached from PTY %s; come back with: workspace shell %s --attach %s\n", sess.ID(), sandboxID, sess.ID())
			if isTerm { // still in raw mode: no implicit carriage return
				msg = "\r\n" + strings.ReplaceAll(msg, "\n", "\r\n")
			}
			fmt.Fprint(a.stderr, msg)
			if a.output == "json" {
				return printJSON(a.stdout, map[string]string{"sandbox_id": sandboxID, "pty_id": sess.ID()})
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("interrupted: %w", ctx.Err())
		}
	})
}

// pumpInput copies in to the session until the detach key (then it closes
// detached) or the end of in (then it sends Ctrl-D, for a piped stdin). Its
// goroutine may stay blocked in a read of the terminal until the process
// exits: a read of os.Stdin cannot be interrupted portably.
func pumpInput(in io.Reader, sess *workspace.PTYSession, isTerm bool, detached chan<- struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if i := bytes.IndexByte(chunk, detachKey); i >= 0 {
				if i > 0 {
					_, _ = sess.Write(chunk[:i])
				}
				close(detached)
				return
			}
			if _, werr := sess.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			if !isTerm {
				_, _ = sess.Write([]byte{eofKey})
			}
			return
		}
	}
}

// terminalFd returns the descriptor of v when it is an *os.File on a
// terminal.
func terminalFd(v any) (int, bool) {
	f, ok := v.(*os.File)
	if !ok {
		return -1, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}
