package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// maxExecStdin bounds the standard input exec sends. The protocol carries
// it in the stream request's query (process.stdin), so it is read whole
// before the command starts and must stay well under the server's header
// limit. Larger inputs go through "workspace cp" and a file.
const maxExecStdin = 256 << 10

// featureProcessStream is the health feature of a real process stream
// (workspace.FeatureProcessStream once the SDK has it).
const featureProcessStream = "process.stream"

// execOptions are the flags of "workspace exec".
type execOptions struct {
	env      []string
	cwd      string
	timeout  time.Duration
	stdin    bool // -i: read stdin even from a terminal
	noStdin  bool
	detach   bool // -d: start detached (process.detach) and print the pid
	sandbox  string
	command  string
	commArgs []string
}

// execCmd is "workspace exec SANDBOX -- CMD ARGS...": the command's output
// streams live to stdout and stderr, and its exit status becomes ours.
func (a *app) execCmd() *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec SANDBOX [flags] -- COMMAND [ARGS...]",
		Short: "Run a command in a sandbox with live output; exits with its exit status",
		Long: `Run a command in a sandbox. Its output streams live to stdout and stderr,
and workspace exits with the command's exit status. Ctrl-C ends the stream,
and the server kills the remote process group. Against a server without the
process.stream feature (upstream) the command runs to completion first and
its output comes at the end.

Standard input is sent when it is a pipe or a file (or always with -i): it is
read whole before the command starts, at most 256 KiB, because the protocol
carries it with the request. For larger inputs copy a file with
"workspace cp" first. --no-stdin never reads it.`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if d := cmd.ArgsLenAtDash(); d == 0 || d > 1 {
				return usagef("usage: workspace exec SANDBOX -- COMMAND [ARGS...]")
			}
			o.sandbox, o.command, o.commArgs = args[0], args[1], args[2:]
			if o.detach {
				return a.execDetached(cmd.Context(), o)
			}
			return a.exec(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.env, "env", "e", nil, "environment variable KEY=VALUE (repeatable)")
	f.StringVarP(&o.cwd, "workdir", "w", "", "working directory (default /workspace)")
	f.DurationVar(&o.timeout, "command-timeout", 0, "kill the command after this long (default: no limit)")
	f.BoolVarP(&o.stdin, "stdin", "i", false, "send standard input even when it is a terminal (read until end of file)")
	f.BoolVar(&o.noStdin, "no-stdin", false, "never send standard input")
	a.addDetachFlag(cmd, o)
	return cmd
}

func (a *app) exec(ctx context.Context, o *execOptions) error {
	env, stdin, err := a.execInput(ctx, o)
	if err != nil {
		return err
	}
	opts := &workspace.RunCommandOptions{
		Args: o.commArgs, Env: env, Cwd: o.cwd, Timeout: o.timeout, Stdin: stdin,
		Stdout: a.stdout, Stderr: a.stderr,
	}
	return a.withClient(func(c *workspace.Client) error {
		h, err := c.Health(ctx)
		if err != nil {
			return err
		}
		if !h.HasFeature(featureProcessStream) {
			// Upstream's stream is a stub that runs nothing: run the
			// command to completion and print its output at the end.
			res, err := c.Process.Run(ctx, o.sandbox, o.command, opts)
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return &exitCodeError{code: res.ExitCode}
			}
			return nil
		}
		for ev, err := range c.Process.RunStream(ctx, o.sandbox, o.command, opts) {
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("interrupted: %w", context.Canceled)
				}
				return err
			}
			if ev.Type == workspace.EventExit {
				if ev.Code != 0 {
					return &exitCodeError{code: ev.Code}
				}
				return nil
			}
		}
		return errors.New("stream ended without an exit status")
	})
}

// execInput is what exec sends with the command, in both modes: the -e
// environment and the standard input (read before any request is made).
func (a *app) execInput(ctx context.Context, o *execOptions) (map[string]string, []byte, error) {
	env, err := parseKeyValues("-e", o.env)
	if err != nil {
		return nil, nil, err
	}
	stdin, err := a.readExecStdin(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return env, stdin, nil
}

// readExecStdin returns the bytes to feed the command, or nil.
func (a *app) readExecStdin(ctx context.Context, o *execOptions) ([]byte, error) {
	if o.noStdin || a.stdin == nil {
		return nil, nil
	}
	if !o.stdin && !isPipeOrFile(a.stdin) {
		return nil, nil
	}
	// Read in a goroutine so that Ctrl-C still ends the command while a
	// pipe's writer keeps it open: a read of os.Stdin cannot be cancelled,
	// and the process exits soon after.
	type readResult struct {
		data []byte
		err  error
	}
	done := make(chan readResult, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(a.stdin, maxExecStdin+1))
		done <- readResult{data, err}
	}()
	var data []byte
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("read stdin: %w", r.err)
		}
		data = r.data
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while reading stdin: %w", context.Canceled)
	}
	if len(data) > maxExecStdin {
		return nil, fmt.Errorf("standard input is over %d KiB: copy it to the workspace with \"workspace cp\" and redirect from the file", maxExecStdin>>10)
	}
	if len(data) == 0 {
		return nil, nil
	}
	return data, nil
}

// isPipeOrFile reports whether r is an *os.File that is a pipe, a socket or
// a regular file (not a terminal or a device such as /dev/null).
func isPipeOrFile(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	if term.IsTerminal(int(f.Fd())) {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	m := fi.Mode()
	return m.IsRegular() || m&(os.ModeNamedPipe|os.ModeSocket) != 0
}
