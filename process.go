package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"
)

// ProcessService runs commands in sandboxes. Get it from Client.Process.
type ProcessService struct{ c *Client }

// runBody is the JSON body of POST /process/run.
type runBody struct {
	Command  string            `json:"command"`
	Args     []string          `json:"args,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	Cwd      string            `json:"cwd,omitempty"`
	Timeout  int64             `json:"timeout,omitempty"`
	Stdin    *string           `json:"stdin,omitempty"`
	Encoding string            `json:"encoding,omitempty"`
}

// wireOptions holds what Run and RunStream put on the wire.
type wireOptions struct {
	body   runBody
	binary bool // output is base64
}

// prepareRun resolves features and encodes opts; it fails before anything
// is sent when Stdin needs a feature the server lacks.
func (s *ProcessService) prepareRun(ctx context.Context, op, command string, opts *RunCommandOptions) (*wireOptions, error) {
	w := &wireOptions{body: runBody{Command: command}}
	binary, err := s.c.hasFeature(ctx, FeatureBinary)
	if err != nil {
		return nil, err
	}
	w.binary = binary
	if binary {
		w.body.Encoding = "base64"
	}
	if opts == nil {
		return w, nil
	}
	w.body.Args, w.body.Env, w.body.Cwd = opts.Args, opts.Env, opts.Cwd
	w.body.Timeout = ceilUnit(opts.Timeout, time.Millisecond)
	if len(opts.Stdin) > 0 {
		ok, err := s.c.hasFeature(ctx, FeatureProcessStdin)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("workspace: %s: Stdin needs the process.stdin feature: %w", op, ErrUnsupported)
		}
		var in string
		if binary {
			in = base64.StdEncoding.EncodeToString(opts.Stdin)
		} else if utf8.Valid(opts.Stdin) {
			in = string(opts.Stdin)
		} else {
			return nil, fmt.Errorf("workspace: %s: Stdin is not valid UTF-8 and the server lacks the binary feature: %w", op, ErrUnsupported)
		}
		w.body.Stdin = &in
	}
	return w, nil
}

// Run runs command (argv[0], no shell) in the sandbox and waits for it to
// finish; a non-zero exit is not an error. opts may be nil. How long Run
// waits is the command's business: without opts.Timeout only ctx bounds the
// wait and the client timeout (WithTimeout) bounds only connecting; with
// opts.Timeout the wait is bounded by opts.Timeout plus the client timeout
// (an error matching context.DeadlineExceeded that names both). When opts.Timeout
// elapses the error matches ErrProcessTimeout and, as an *Error, carries the
// partial output in Stdout and Stderr (on servers that report it). Other
// errors: ErrSandboxNotFound, ErrInvalidSandboxState (sandbox not running),
// ErrUnsupported (Stdin on a server without process.stdin). When
// opts.Stdout or opts.Stderr are set, the output is also written there.
func (s *ProcessService) Run(ctx context.Context, sandboxID, command string, opts *RunCommandOptions) (*CommandResult, error) {
	const op = "run command"
	w, err := s.prepareRun(ctx, op, command, opts)
	if err != nil {
		return nil, err
	}
	r := &apiRequest{op: op, method: http.MethodPost, path: sandboxPath(sandboxID, "/process/run"), body: &w.body, scope: untilConnected}
	if opts != nil && opts.Timeout > 0 {
		r.scope, r.extra, r.extraReason = wholeCall, opts.Timeout, "command timeout"
	}
	var out struct {
		ExitCode        int    `json:"exit_code"`
		Stdout          string `json:"stdout"`
		Stderr          string `json:"stderr"`
		StdoutTruncated bool   `json:"stdout_truncated"`
		StderrTruncated bool   `json:"stderr_truncated"`
	}
	if err := s.c.callJSON(ctx, r, &out); err != nil {
		var apiErr *Error
		if w.binary && errors.As(err, &apiErr) {
			apiErr.Stdout = decodeLenient(apiErr.Stdout)
			apiErr.Stderr = decodeLenient(apiErr.Stderr)
		}
		return nil, err
	}
	res := &CommandResult{ExitCode: out.ExitCode, Stdout: out.Stdout, Stderr: out.Stderr,
		StdoutTruncated: out.StdoutTruncated, StderrTruncated: out.StderrTruncated}
	if w.binary {
		o, err1 := base64.StdEncoding.DecodeString(out.Stdout)
		e, err2 := base64.StdEncoding.DecodeString(out.Stderr)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("workspace: %s: decode base64 output: %w", op, err)
		}
		res.Stdout, res.Stderr = string(o), string(e)
	}
	if opts != nil {
		if opts.Stdout != nil && res.Stdout != "" {
			if _, err := opts.Stdout.Write([]byte(res.Stdout)); err != nil {
				return res, fmt.Errorf("workspace: %s: write stdout: %w", op, err)
			}
		}
		if opts.Stderr != nil && res.Stderr != "" {
			if _, err := opts.Stderr.Write([]byte(res.Stderr)); err != nil {
				return res, fmt.Errorf("workspace: %s: write stderr: %w", op, err)
			}
		}
	}
	return res, nil
}

// decodeLenient decodes base64 partial output, keeping s when it is not
// base64.
func decodeLenient(s string) string {
	if s == "" {
		return s
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s
	}
	return string(b)
}

// Exec runs command with args and returns its standard output. A non-zero
// exit returns the output together with an *ExitError; other errors are
// those of Run.
func (s *ProcessService) Exec(ctx context.Context, sandboxID, command string, args ...string) (string, error) {
	res, err := s.Run(ctx, sandboxID, command, &RunCommandOptions{Args: args})
	if err != nil {
		return "", err
	}
	if res.ExitCode != 0 {
		return res.Stdout, &ExitError{ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr}
	}
	return res.Stdout, nil
}

// Shell runs script with /bin/sh -c and waits for it, like Run. opts may be
// nil; its Args, when set, become the script's positional parameters $1...
// ($0 is "sh").
func (s *ProcessService) Shell(ctx context.Context, sandboxID, script string, opts *RunCommandOptions) (*CommandResult, error) {
	return s.Run(ctx, sandboxID, "/bin/sh", shellOptions(script, opts))
}

// shellOptions returns a copy of opts running script under sh -c.
func shellOptions(script string, opts *RunCommandOptions) *RunCommandOptions {
	var o RunCommandOptions
	if opts != nil {
		o = *opts
	}
	args := []string{"-c", script}
	if len(o.Args) > 0 {
		args = append(append(args, "sh"), o.Args...)
	}
	o.Args = args
	return &o
}

// Kill sends sig (0 means SIGTERM) to the process pid of the sandbox, such
// as the PID of a RunStream start event. An unknown pid matches
// ErrProcessNotFound.
func (s *ProcessService) Kill(ctx context.Context, sandboxID string, pid int, sig Signal) error {
	if sig == 0 {
		sig = SIGTERM
	}
	body := struct {
		Signal int `json:"signal"`
	}{int(sig)}
	return s.c.callJSON(ctx, &apiRequest{op: "kill process", method: http.MethodPost, path: sandboxPath(sandboxID, "/process/"+strconv.Itoa(pid)+"/kill"), body: body}, nil)
}
