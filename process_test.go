package workspace

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProcessMethods(t *testing.T) {
	bin := []string{"binary", "process.stdin"}
	runMethodCases(t, []methodCase{
		{name: "Run binary", features: bin, reply: `{"exit_code":3,"stdout":"AP8K","stderr":"ZXJy"}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run",
			body: `{"command":"ls","args":["-l","a b"],"env":{"X":"1"},"cwd":"/tmp","timeout":2,"stdin":"AAE=","encoding":"base64"}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Process.Run(ctx, "sbx-1", "ls", &RunCommandOptions{Args: []string{"-l", "a b"}, Env: map[string]string{"X": "1"},
					Cwd: "/tmp", Timeout: 1500 * time.Microsecond, Stdin: []byte{0, 1}})
			},
			check: func(t *testing.T, got any) {
				assert.Equal(t, &CommandResult{ExitCode: 3, Stdout: "\x00\xff\n", Stderr: "err"}, got)
			}},
		{name: "Run text", reply: `{"exit_code":0,"stdout":"hi\n","stderr":""}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run", body: `{"command":"echo"}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Process.Run(ctx, "sbx-1", "echo", nil) },
			check: func(t *testing.T, got any) {
				assert.Equal(t, &CommandResult{Stdout: "hi\n"}, got)
			}},
		{name: "Run truncated", reply: `{"exit_code":0,"stdout":"abc","stderr":"","stdout_truncated":true}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run", body: `{"command":"yes"}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Process.Run(ctx, "sbx-1", "yes", nil) },
			check: func(t *testing.T, got any) {
				assert.Equal(t, &CommandResult{Stdout: "abc", StdoutTruncated: true}, got)
			}},
		{name: "Exec", reply: `{"exit_code":0,"stdout":"host\n","stderr":""}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run", body: `{"command":"cat","args":["/etc/hostname"]}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Process.Exec(ctx, "sbx-1", "cat", "/etc/hostname")
			},
			check: func(t *testing.T, got any) { assert.Equal(t, "host\n", got) }},
		{name: "Shell", reply: `{"exit_code":0,"stdout":"","stderr":""}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run", body: `{"command":"/bin/sh","args":["-c","echo $1","sh","x"],"env":{"D":"1"}}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Process.Shell(ctx, "sbx-1", "echo $1", &RunCommandOptions{Args: []string{"x"}, Env: map[string]string{"D": "1"}})
			}},
		{name: "Shell nil", reply: `{"exit_code":0,"stdout":"","stderr":""}`,
			method: "POST", path: "/sandboxes/sbx-1/process/run", body: `{"command":"/bin/sh","args":["-c","true"]}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Process.Shell(ctx, "sbx-1", "true", nil) }},
		{name: "Kill default", reply: `{"success":true}`, method: "POST", path: "/sandboxes/sbx-1/process/42/kill", body: `{"signal":15}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Process.Kill(ctx, "sbx-1", 42, 0) }},
		{name: "Kill SIGKILL", reply: `{"success":true}`, method: "POST", path: "/sandboxes/sbx-1/process/42/kill", body: `{"signal":9}`, noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Process.Kill(ctx, "sbx-1", 42, SIGKILL)
			}},
	})
}

func TestProcessExecExitError(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"exit_code":2,"stdout":"partial","stderr":"boom\n"}`)
	out, err := f.c.Process.Exec(t.Context(), "sbx-1", "false")
	var ee *ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, &ExitError{ExitCode: 2, Stdout: "partial", Stderr: "boom\n"}, ee)
	assert.Equal(t, "partial", out)
	assert.Equal(t, "workspace: exit status 2: boom", err.Error())
}

func TestProcessRunStdinUnsupported(t *testing.T) {
	f := newFake(t, []string{"binary"})
	_, err := f.c.Process.Run(t.Context(), "sbx-1", "cat", &RunCommandOptions{Stdin: []byte("x")})
	require.ErrorIs(t, err, ErrUnsupported)
	assert.Empty(t, f.requests())
}

func TestProcessRunTimeoutPartialOutput(t *testing.T) {
	f := newFake(t, []string{"binary"})
	f.script(reply{status: 504, body: `{"code":4002,"message":"Process timeout","stdout":"YQ==","stderr":"Yg=="}`})
	_, err := f.c.Process.Run(t.Context(), "sbx-1", "sleep", &RunCommandOptions{Timeout: time.Second})
	require.ErrorIs(t, err, ErrProcessTimeout)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "a", apiErr.Stdout)
	assert.Equal(t, "b", apiErr.Stderr)
	assert.Len(t, f.requests(), 1, "a POST is never resent")
}

func TestProcessRunWriters(t *testing.T) {
	f := newFake(t, nil)
	f.ok(`{"exit_code":0,"stdout":"out","stderr":"err"}`)
	var o, e bytes.Buffer
	opts := &RunCommandOptions{Stdout: &o, Stderr: &e, Args: []string{"a"}}
	res, err := f.c.Process.Run(t.Context(), "sbx-1", "x", opts)
	require.NoError(t, err)
	assert.Equal(t, "out", o.String())
	assert.Equal(t, "err", e.String())
	assert.Equal(t, "out", res.Stdout)
	assert.Equal(t, []string{"a"}, opts.Args)
}

func TestShellOptionsDoNotMutate(t *testing.T) {
	opts := &RunCommandOptions{Args: []string{"x"}, Cwd: "/w"}
	o := shellOptions("s", opts)
	assert.Equal(t, []string{"-c", "s", "sh", "x"}, o.Args)
	assert.Equal(t, "/w", o.Cwd)
	assert.Equal(t, &RunCommandOptions{Args: []string{"x"}, Cwd: "/w"}, opts)
}

func TestSignalString(t *testing.T) {
	assert.Equal(t, "SIGTERM", SIGTERM.String())
	assert.Equal(t, "SIGUSR2", SIGUSR2.String())
	assert.Equal(t, "Signal(99)", Signal(99).String())
}

func TestCeilUnit(t *testing.T) {
	assert.Equal(t, int64(0), ceilUnit(0, time.Second))
	assert.Equal(t, int64(0), ceilUnit(-time.Second, time.Second))
	assert.Equal(t, int64(1), ceilUnit(time.Nanosecond, time.Millisecond))
	assert.Equal(t, int64(30), ceilUnit(30*time.Second, time.Second))
	assert.Equal(t, int64(30001), ceilUnit(30*time.Second+1, time.Millisecond))
	assert.False(t, errors.Is(nil, ErrNotFound))
}
