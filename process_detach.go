package workspace

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	sse "github.com/tmaxmax/go-sse"
)

// StartOptions configures ProcessService.Start. The zero value (or nil)
// starts the command with no arguments, the sandbox's environment, cwd
// /workspace, no timeout and stdin at EOF.
type StartOptions struct {
	// Args are the command's arguments (argv[1:]).
	Args []string
	// Env is added to the sandbox's environment for this process.
	Env map[string]string
	// Cwd is the working directory; default /workspace.
	Cwd string
	// Timeout kills the process group when it elapses; 0 means none.
	Timeout time.Duration
	// Stdin is written to the process's stdin first; without OpenStdin,
	// stdin is then closed.
	Stdin []byte
	// OpenStdin keeps stdin open for Process.WriteStdin until
	// Process.CloseStdin.
	OpenStdin bool
}

// ProcessInfo describes a detached process (ProcessService.List,
// Process.Info).
type ProcessInfo struct {
	// PID is the process id inside the sandbox.
	PID int
	// Command is argv[0] as started.
	Command string
	// Args are the arguments as started.
	Args []string
	// Cwd is the working directory.
	Cwd string
	// Running is true until the process has exited.
	Running bool
	// ExitCode is the exit status once exited (128+signal when killed);
	// -1 when the process ended without one (its sandbox ended first).
	ExitCode int
	// StartedAt is when it started.
	StartedAt time.Time
	// EndedAt is when it exited; zero while it runs.
	EndedAt time.Time
}

// Process is a process started with ProcessService.Start (or found with
// Attach) on a server with the process.detach feature. It is not tied to
// any connection: it runs until it exits, is killed, or its sandbox ends,
// and stays listed for 10 minutes after its exit. A Process is safe for
// concurrent use.
type Process struct {
	// PID is the process id inside the sandbox.
	PID int

	c         *Client
	sandboxID string
}

// processInfoWire is ProcessInfo on the wire.
type processInfoWire struct {
	PID       int      `json:"pid"`
	Command   string   `json:"command"`
	Args      []string `json:"args"`
	Cwd       string   `json:"cwd"`
	State     string   `json:"state"`
	ExitCode  *int     `json:"exit_code"`
	StartedAt wireTime `json:"started_at"`
	EndedAt   wireTime `json:"ended_at"`
}

func (w *processInfoWire) info() *ProcessInfo {
	p := &ProcessInfo{
		PID: w.PID, Command: w.Command, Args: w.Args, Cwd: w.Cwd, Running: w.State == "running",
		ExitCode: -1, StartedAt: w.StartedAt.Time, EndedAt: w.EndedAt.Time,
	}
	if w.ExitCode != nil {
		p.ExitCode = *w.ExitCode
	}
	return p
}

// processPath returns the path of detached process pid of a sandbox.
func processPath(sandboxID string, pid int, rest string) string {
	return sandboxPath(sandboxID, "/processes/"+strconv.Itoa(pid)+rest)
}

// Start starts command (argv[0], no shell) in the sandbox and returns once
// it runs; it is not tied to ctx or to any connection (ctx bounds only this
// call). opts may be nil. Errors: ErrUnsupported without process.detach,
// ErrSandboxNotFound, ErrInvalidSandboxState, ErrProcessExecutionFailed
// when the command cannot be started (not found, not executable, bad Cwd),
// ErrSandboxLimitExceeded when the server's output budget is used up.
func (s *ProcessService) Start(ctx context.Context, sandboxID, command string, opts *StartOptions) (*Process, error) {
	return s.start(ctx, sandboxID, command, opts, false)
}

// start is Start; with follow the server holds the output for the reader
// the caller attaches at once (Cmd), so none is lost before it does.
func (s *ProcessService) start(ctx context.Context, sandboxID, command string, opts *StartOptions, follow bool) (*Process, error) {
	const op = "start process"
	if err := s.c.requireFeature(ctx, op, FeatureProcessDetach); err != nil {
		return nil, err
	}
	body := struct {
		runBody
		OpenStdin bool `json:"open_stdin,omitempty"`
		Follow    bool `json:"follow,omitempty"`
	}{runBody: runBody{Command: command}, Follow: follow}
	if opts != nil {
		body.Args, body.Env, body.Cwd = opts.Args, opts.Env, opts.Cwd
		body.Timeout = ceilUnit(opts.Timeout, time.Millisecond)
		body.OpenStdin = opts.OpenStdin
		if opts.Stdin != nil {
			in, enc, err := s.encodeStdin(ctx, op, opts.Stdin)
			if err != nil {
				return nil, err
			}
			body.Stdin, body.Encoding = &in, enc
		}
	}
	var out processInfoWire
	if err := s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodPost, path: sandboxPath(sandboxID, "/processes"), body: &body}, &out); err != nil {
		return nil, err
	}
	return &Process{PID: out.PID, c: s.c, sandboxID: sandboxID}, nil
}

// encodeStdin encodes initial stdin bytes: base64 on servers with the
// binary feature, else as text (which must be valid UTF-8).
func (s *ProcessService) encodeStdin(ctx context.Context, op string, b []byte) (in, encoding string, err error) {
	binary, err := s.c.hasFeature(ctx, "binary")
	if err != nil {
		return "", "", err
	}
	if binary {
		return base64.StdEncoding.EncodeToString(b), "base64", nil
	}
	if !utf8.Valid(b) {
		return "", "", fmt.Errorf("workspace: %s: Stdin is not valid UTF-8 and the server lacks the binary feature: %w", op, ErrUnsupported)
	}
	return string(b), "", nil
}

// Attach returns the detached process pid of the sandbox, running or
// exited in the last 10 minutes, for example one started by another
// client. Errors: ErrProcessNotFound, ErrUnsupported, ErrSandboxNotFound.
func (s *ProcessService) Attach(ctx context.Context, sandboxID string, pid int) (*Process, error) {
	const op = "attach process"
	if err := s.c.requireFeature(ctx, op, FeatureProcessDetach); err != nil {
		return nil, err
	}
	var out processInfoWire
	if err := s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodGet, path: processPath(sandboxID, pid, "")}, &out); err != nil {
		return nil, err
	}
	return &Process{PID: out.PID, c: s.c, sandboxID: sandboxID}, nil
}

// List returns the sandbox's detached processes: those running and those
// that exited in the last 10 minutes, oldest first. Errors: ErrUnsupported,
// ErrSandboxNotFound, ErrInvalidSandboxState.
func (s *ProcessService) List(ctx context.Context, sandboxID string) ([]*ProcessInfo, error) {
	const op = "list processes"
	if err := s.c.requireFeature(ctx, op, FeatureProcessDetach); err != nil {
		return nil, err
	}
	var out struct {
		Processes []processInfoWire `json:"processes"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodGet, path: sandboxPath(sandboxID, "/processes")}, &out); err != nil {
		return nil, err
	}
	infos := make([]*ProcessInfo, len(out.Processes))
	for i := range out.Processes {
		infos[i] = out.Processes[i].info()
	}
	return infos, nil
}

// Info returns the process's current state. ErrProcessNotFound once it
// has been forgotten (10 minutes after its exit, or its sandbox ended).
func (p *Process) Info(ctx context.Context) (*ProcessInfo, error) {
	var out processInfoWire
	if err := p.c.callJSON(ctx, &apiRequest{op: "process info", method: http.MethodGet, path: processPath(p.sandboxID, p.PID, "")}, &out); err != nil {
		return nil, err
	}
	return out.info(), nil
}

// WriteStdin appends b to the process's stdin; it needs
// StartOptions.OpenStdin (else ErrInvalidParameter). It returns once the
// process's stdin pipe took b.
func (p *Process) WriteStdin(ctx context.Context, b []byte) error {
	return p.sendStdin(ctx, bytes.NewReader(b), false, p.c.timeout)
}

// CloseStdin closes the process's stdin: it reads EOF after what was
// written. Closing twice is not an error.
func (p *Process) CloseStdin(ctx context.Context) error {
	return p.sendStdin(ctx, bytes.NewReader(nil), true, p.c.timeout)
}

// sendStdin streams r to the process's stdin in one request, closing it
// afterwards when close is set; timeout <= 0 means no bound but ctx.
func (p *Process) sendStdin(ctx context.Context, r io.Reader, close bool, timeout time.Duration) error {
	var q url.Values
	if close {
		q = url.Values{"close": {"true"}}
	}
	r0 := &apiRequest{op: "write stdin", method: http.MethodPost, path: processPath(p.sandboxID, p.PID, "/stdin"), query: q, body: r, size: -1}
	if br, ok := r.(*bytes.Reader); ok {
		r0.size = int64(br.Len())
	}
	if timeout <= 0 {
		// A stream of stdin (Cmd): the client timeout bounds connecting only.
		r0.scope = untilConnected
	}
	return p.c.callJSON(ctx, r0, nil)
}

// Kill sends sig (0 means SIGTERM) to the process's group.
func (p *Process) Kill(ctx context.Context, sig Signal) error {
	return p.c.Process.Kill(ctx, p.sandboxID, p.PID, sig)
}

// Wait waits for the process to exit and returns its exit code. It follows
// the event stream (resuming it after dropped connections) until the exit
// event. An exit by timeout matches ErrProcessTimeout; a sandbox that ended
// first gives an *Error with ErrInvalidSandboxState.
func (p *Process) Wait(ctx context.Context) (exitCode int, err error) {
	for ev, err := range p.Events(ctx) {
		if err != nil {
			return -1, err
		}
		if ev.Type == EventExit {
			return ev.Code, nil
		}
	}
	return -1, fmt.Errorf("workspace: wait process: %w: no exit event", ErrStreamInterrupted)
}

// Stream resumption: a dropped connection is reopened after a backoff
// from eventRetryBase doubling to eventRetryMax, giving up after
// eventRetries attempts in a row that bring no event.
const (
	eventRetryBase = 50 * time.Millisecond
	eventRetryMax  = 2 * time.Second
	eventRetries   = 8
)

// Events yields the process's events: from the first event the server
// still holds (its start, unless more than the server's ring, at least 1
// MiB of output, came since), then live ones, ending after the EventExit.
// When the connection drops, Events reconnects by itself and resumes after
// the last event it yielded, so no output is repeated; when the server no
// longer holds the output that came in between, an EventGap with the lost
// byte count in Dropped comes first. The stream is bounded only by ctx.
// The contract:
//   - at most one of the event and the error is non-nil;
//   - iteration stops after an error;
//   - breaking out or cancelling ctx closes the stream; the process keeps
//     running;
//   - an error event of the server (a timeout: ErrProcessTimeout; the
//     sandbox ended: ErrInvalidSandboxState) is yielded as an EventError,
//     then as an *Error;
//   - reconnecting fails with an error wrapping ErrStreamInterrupted after
//     several attempts in a row bring nothing.
func (p *Process) Events(ctx context.Context) iter.Seq2[ProcessEvent, error] {
	return func(yield func(ProcessEvent, error) bool) {
		const op = "process events"
		binary, err := p.c.hasFeature(ctx, "binary")
		if err != nil {
			yield(ProcessEvent{}, err)
			return
		}
		dec := &streamDecoder{binary: binary}
		var (
			last    string
			failed  int
			lastErr error
		)
		for {
			if failed > 0 {
				if failed >= eventRetries {
					yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w: %w", op, ErrStreamInterrupted, lastErr))
					return
				}
				wait := min(eventRetryBase<<(failed-1), eventRetryMax)
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w", op, ctx.Err()))
					return
				}
			}
			progress, done, err := p.readEvents(ctx, dec, &last, yield)
			if done {
				return
			}
			if ctx.Err() != nil {
				yield(ProcessEvent{}, fmt.Errorf("workspace: %s: %w", op, ctx.Err()))
				return
			}
			if progress {
				failed = 0
			}
			failed++
			lastErr = err
		}
	}
}

// readEvents opens the event stream once, resuming after *last, and
// yields what it reads. done is true when iteration is over (the last
// event, an error to report, or the consumer stopped); otherwise err says
// why the connection ended and progress whether it brought an event.
func (p *Process) readEvents(ctx context.Context, dec *streamDecoder, last *string, yield func(ProcessEvent, error) bool) (progress, done bool, err error) {
	const op = "process events"
	var q url.Values
	if dec.binary {
		q = url.Values{"encoding": {"base64"}}
	}
	hdr := http.Header{"Cache-Control": {"no-cache"}}
	if *last != "" {
		hdr.Set("Last-Event-ID", *last)
	}
	resp, err := p.c.open(ctx, &apiRequest{
		op: op, method: http.MethodGet, path: processPath(p.sandboxID, p.PID, "/events"),
		query: q, accept: "text/event-stream", header: hdr, scope: untilHeaders,
	})
	if err != nil {
		var apiErr *Error
		if errors.As(err, &apiErr) || ctx.Err() != nil {
			// An answer of the server (after the client's retries), or
			// the caller gave up: report it.
			yield(ProcessEvent{}, err)
			return false, true, nil
		}
		return false, false, err // the connection failed: resume
	}
	defer resp.Body.Close()
	for sev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
		if err != nil {
			return progress, false, err
		}
		var ev ProcessEvent
		if sev.Type == "gap" {
			var g struct {
				Dropped int64 `json:"dropped"`
			}
			if err := json.Unmarshal([]byte(sev.Data), &g); err != nil {
				yield(ProcessEvent{}, fmt.Errorf("workspace: %s: decode gap event: %w", op, err))
				return progress, true, nil
			}
			ev = ProcessEvent{Type: EventGap, Dropped: g.Dropped}
		} else {
			var ok bool
			ev, ok, err = dec.decode(sev.Type, sev.Data)
			if err != nil {
				yield(ProcessEvent{}, err)
				return progress, true, nil
			}
			if !ok {
				*last = sev.LastEventID
				continue
			}
		}
		*last = sev.LastEventID
		progress = true
		if !yield(ev, nil) {
			return progress, true, nil
		}
		switch ev.Type {
		case EventExit:
			return progress, true, nil
		case EventError:
			yield(ProcessEvent{}, &Error{Code: ErrorCode(ev.Code), Message: ev.Message, Op: op})
			return progress, true, nil
		}
	}
	return progress, false, io.ErrUnexpectedEOF
}
