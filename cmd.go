package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// MaxBufferedStdin is how much of Cmd.Stdin is read into memory on a
// server without process.detach (where stdin cannot be streamed and is
// sent with the request): 16 MiB. More fails Start before the command
// runs.
const MaxBufferedStdin = 16 << 20

// Cmd is a command to run in a sandbox, shaped like os/exec's Cmd. Make it
// with ProcessService.Command, set its fields, then call Run, Output,
// CombinedOutput, or Start and Wait. A Cmd cannot be reused.
//
// On servers with process.detach the command is a detached process: Stdin
// is streamed to it as it is read (never read into memory first), Stdout
// and Stderr are fed as output arrives, a dropped connection is resumed
// without losing output, and Process is set by Start. On other servers
// Cmd falls back to run/stream (output fed live) or else run (output
// written at the end), and Stdin is read up to MaxBufferedStdin bytes
// first (it then needs the process.stdin feature).
//
// Cancelling the ctx given to Command kills the remote process group.
type Cmd struct {
	// Args holds the command name then its arguments (Args[0] is run, as
	// with os/exec).
	Args []string
	// Env is added to the sandbox's environment.
	Env map[string]string
	// Dir is the working directory; default /workspace.
	Dir string
	// Timeout kills the process group when it elapses; 0 means none. The
	// error then matches ErrProcessTimeout.
	Timeout time.Duration
	// Stdin is the command's standard input; nil means none (EOF).
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil discards it.
	// When both are the same writer, at most one goroutine writes to it
	// at a time.
	Stdout, Stderr io.Writer
	// Process is the remote process once Start returns, on servers with
	// process.detach; nil otherwise.
	Process *Process

	ctx       context.Context
	s         *ProcessService
	sandboxID string

	started bool
	done    chan struct{}
	err     error // result, valid after done
}

// Command returns a Cmd that runs name with args in the sandbox, like
// exec.CommandContext. ctx bounds the command: cancelling it kills the
// remote process group.
func (s *ProcessService) Command(ctx context.Context, sandboxID, name string, args ...string) *Cmd {
	return &Cmd{Args: append([]string{name}, args...), ctx: ctx, s: s, sandboxID: sandboxID}
}

// Run starts the command and waits for it. A non-zero exit is an
// *ExitError (with the output that went to no writer in Stdout/Stderr).
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output runs the command and returns its standard output. Stdout must be
// nil. When Stderr is nil, an *ExitError carries the standard error.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("workspace: Stdout already set")
	}
	var out bytes.Buffer
	c.Stdout = &out
	err := c.Run()
	return out.Bytes(), err
}

// CombinedOutput runs the command and returns its standard output and
// standard error together. Stdout and Stderr must be nil.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, errors.New("workspace: Stdout or Stderr already set")
	}
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.Bytes(), err
}

// Start starts the command and returns once it runs (on process.detach
// servers; elsewhere once the request is under way). Wait must be called
// to release its resources.
func (c *Cmd) Start() error {
	if c.started {
		return errors.New("workspace: Cmd already started")
	}
	if len(c.Args) == 0 {
		return errors.New("workspace: Cmd has no Args")
	}
	c.started = true
	if err := c.ctx.Err(); err != nil {
		return fmt.Errorf("workspace: start command: %w", err)
	}
	detach, err := c.s.c.hasFeature(c.ctx, "process.detach")
	if err != nil {
		return err
	}
	c.done = make(chan struct{})
	if detach {
		return c.startDetached()
	}
	return c.startFallback()
}

// Wait waits for the command to exit and for its output to be written. A
// non-zero exit is an *ExitError; a cancelled ctx an error wrapping
// ctx.Err().
func (c *Cmd) Wait() error {
	if !c.started || c.done == nil {
		return errors.New("workspace: Cmd not started")
	}
	<-c.done
	return c.err
}

// exitError builds the *ExitError of a non-zero exit, with the output
// captured by stderrTail when Stderr is nil.
func (c *Cmd) exitError(code int, stderr *bytes.Buffer) error {
	if code == 0 {
		return nil
	}
	e := &ExitError{ExitCode: code}
	if stderr != nil {
		e.Stderr = stderr.String()
	}
	return e
}

// stderrCapture returns the writer for stderr and, when Stderr is nil, a
// bounded buffer for the ExitError.
func (c *Cmd) stderrCapture() (io.Writer, *bytes.Buffer) {
	if c.Stderr != nil {
		return c.Stderr, nil
	}
	var b bytes.Buffer
	return &headWriter{b: &b, max: 64 << 10}, &b
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   *bytes.Buffer
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - h.b.Len(); room > 0 {
		h.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// startDetached runs the command as a detached process: stdin streamed in
// one request, events followed (with resumption) into the writers.
func (c *Cmd) startDetached() error {
	opts := &StartOptions{Args: c.Args[1:], Env: c.Env, Cwd: c.Dir, Timeout: c.Timeout, OpenStdin: c.Stdin != nil}
	p, err := c.s.start(c.ctx, c.sandboxID, c.Args[0], opts, true)
	if err != nil {
		return err
	}
	c.Process = p
	ctx, cancel := context.WithCancel(c.ctx)
	var wg sync.WaitGroup
	if c.Stdin != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Errors after the exit (stdin closed) are not the command's.
			_ = p.sendStdin(ctx, c.Stdin, true, 0)
		}()
	}
	stderr, captured := c.stderrCapture()
	go func() {
		defer close(c.done)
		code, err := c.follow(p, stderr)
		if err != nil {
			// Cancelled, or the output could not be delivered: kill the
			// remote group (it may have ended already), with a bound of
			// its own.
			kctx, kcancel := context.WithTimeout(context.WithoutCancel(c.ctx), 10*time.Second)
			_ = p.Kill(kctx, SIGKILL)
			kcancel()
			if c.ctx.Err() != nil {
				err = fmt.Errorf("workspace: command: %w", c.ctx.Err())
			}
		}
		cancel()
		wg.Wait()
		if err == nil {
			err = c.exitError(code, captured)
		}
		c.err = err
	}()
	return nil
}

// follow writes the process's output to the writers until its exit.
func (c *Cmd) follow(p *Process, stderr io.Writer) (int, error) {
	const op = "command"
	for ev, err := range p.Events(c.ctx) {
		if err != nil {
			return -1, err
		}
		var w io.Writer
		switch ev.Type {
		case EventStdout:
			w = c.Stdout
		case EventStderr:
			w = stderr
		case EventGap:
			return -1, fmt.Errorf("workspace: %s: %d bytes of output were lost", op, ev.Dropped)
		case EventExit:
			return ev.Code, nil
		}
		if w != nil && len(ev.Data) > 0 {
			if _, err := w.Write(ev.Data); err != nil {
				return -1, fmt.Errorf("workspace: %s: write %s: %w", op, ev.Type, err)
			}
		}
	}
	return -1, fmt.Errorf("workspace: %s: %w: no exit event", op, ErrStreamInterrupted)
}

// startFallback runs the command with run/stream, or run, reading Stdin
// into memory first (at most MaxBufferedStdin bytes).
func (c *Cmd) startFallback() error {
	opts := &RunCommandOptions{Args: c.Args[1:], Env: c.Env, Cwd: c.Dir, Timeout: c.Timeout}
	if c.Stdin != nil {
		b, err := io.ReadAll(io.LimitReader(c.Stdin, MaxBufferedStdin+1))
		if err != nil {
			return fmt.Errorf("workspace: start command: read stdin: %w", err)
		}
		if len(b) > MaxBufferedStdin {
			return fmt.Errorf("workspace: start command: Stdin is over %d bytes and the server lacks process.detach", MaxBufferedStdin)
		}
		opts.Stdin = b
		if opts.Stdin == nil {
			opts.Stdin = []byte{}
		}
	}
	stream, err := c.s.c.hasFeature(c.ctx, "process.stream")
	if err != nil {
		return err
	}
	stderr, captured := c.stderrCapture()
	opts.Stdout, opts.Stderr = c.Stdout, stderr
	go func() {
		defer close(c.done)
		code := -1
		var err error
		if stream {
			for ev, e := range c.s.RunStream(c.ctx, c.sandboxID, c.Args[0], opts) {
				if e != nil {
					err = e
					break
				}
				if ev.Type == EventExit {
					code = ev.Code
				}
			}
		} else {
			var res *CommandResult
			if res, err = c.s.Run(c.ctx, c.sandboxID, c.Args[0], opts); err == nil {
				code = res.ExitCode
			}
		}
		if err == nil {
			err = c.exitError(code, captured)
		}
		c.err = err
	}()
	return nil
}
