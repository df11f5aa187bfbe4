package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

const runRoute = "POST /sandboxes/{id}/process/run"

// checkRunExitCode: exit codes come back as they are, 0 and not.
func checkRunExitCode(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	for _, code := range []int{0, 1, 3, 42} {
		res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", fmt.Sprintf("exit %d", code)}})
		if err != nil {
			return failed(runRoute, err)
		}
		if res.ExitCode != code {
			return mismatch(runRoute+" sh -c 'exit N'", "exit_code", res.ExitCode, code)
		}
	}
	return nil
}

// checkRunNotFound (Part 2): a missing command exits 127, one that cannot
// be executed 126, each with a reason on stderr.
func checkRunNotFound(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	res, err := e.C.Process.Run(ctx, sb.ID, "conformance-no-such-command", nil)
	if err != nil {
		return failed(runRoute+" of a missing command", err)
	}
	if res.ExitCode != 127 || res.Stderr == "" {
		return mismatch(runRoute+" of a missing command", "exit_code/stderr", fmt.Sprintf("%d/%q", res.ExitCode, res.Stderr), "127/a reason")
	}
	d := e.Dir("noexec")
	if err := e.C.Workspace.WriteFile(ctx, sb.WorkspaceID, d+"/script.sh", []byte("#!/bin/sh\necho no\n")); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	res, err = e.C.Process.Run(ctx, sb.ID, "/workspace/"+d+"/script.sh", nil)
	if err != nil {
		return failed(runRoute+" of a non-executable file", err)
	}
	if res.ExitCode != 126 || res.Stderr == "" {
		return mismatch(runRoute+" of a non-executable file", "exit_code/stderr", fmt.Sprintf("%d/%q", res.ExitCode, res.Stderr), "126/a reason")
	}
	return nil
}

// checkRunOutput: stdout and stderr are the exact bytes, newlines and
// carriage returns untouched, each on its own stream.
func checkRunOutput(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", `printf 'out\r\nline\n\n  x'; printf 'err\n' >&2`}})
	if err != nil {
		return failed(runRoute, err)
	}
	if err := differ(runRoute, "stdout", []byte(res.Stdout), []byte("out\r\nline\n\n  x")); err != nil {
		return err
	}
	return differ(runRoute, "stderr", []byte(res.Stderr), []byte("err\n"))
}

// checkRunEnvCwdArgs: the sandbox env with the request's on top, cwd
// /workspace by default or as asked, args passed without a shell.
func checkRunEnvCwdArgs(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{
		Args: []string{"-c", `printf '%s|%s|%s' "$CONFORMANCE_SANDBOX_VAR" "$REQ_VAR" "$(pwd)"`},
		Env:  map[string]string{"REQ_VAR": "from request"},
	})
	if err != nil {
		return failed(runRoute, err)
	}
	if want := "from-sandbox|from request|/workspace"; res.Stdout != want {
		return mismatch(runRoute, "sandbox env|request env|default cwd", res.Stdout, want)
	}
	d := e.Dir("cwd")
	if err := e.C.Workspace.Mkdir(ctx, sb.WorkspaceID, d); err != nil {
		return failed("POST /workspaces/{id}/files/mkdir", err)
	}
	res, err = e.C.Process.Run(ctx, sb.ID, "pwd", &workspace.RunCommandOptions{Cwd: "/workspace/" + d})
	if err != nil {
		return failed(runRoute, err)
	}
	if want := "/workspace/" + d + "\n"; res.Stdout != want {
		return mismatch(runRoute+" with cwd", "stdout of pwd", res.Stdout, want)
	}
	args := []string{"two words", "$HOME", "'q'", ""}
	res, err = e.C.Process.Run(ctx, sb.ID, "printf", &workspace.RunCommandOptions{Args: append([]string{"[%s]"}, args...)})
	if err != nil {
		return failed(runRoute, err)
	}
	if want := "[two words][$HOME]['q'][]"; res.Stdout != want {
		return mismatch(runRoute+" args (no shell)", "stdout", res.Stdout, want)
	}
	return nil
}

// checkRunTimeout (Part 2): a timeout is 504/4002 with the partial output.
func checkRunTimeout(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	var err error
	_, err = e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{
		Args:    []string{"-c", "printf partial; printf perr >&2; sleep 60"},
		Timeout: time.Second,
	})
	if err := wantAPIError(runRoute+" with timeout 1000 ms", err, workspace.CodeProcessTimeout, 504); err != nil {
		return err
	}
	var ae *workspace.Error
	errors.As(err, &ae)
	if ae.Stdout != "partial" || ae.Stderr != "perr" {
		return mismatch(runRoute+" timeout body", "stdout/stderr", fmt.Sprintf("%q/%q", ae.Stdout, ae.Stderr), `"partial"/"perr"`)
	}
	return nil
}

// checkKill (Part 2): a pid as seen inside the sandbox can be killed;
// killing an unknown pid is 404/4001.
func checkKill(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	res, err := e.C.Process.Shell(ctx, sb.ID, "sleep 300 >/dev/null 2>&1 & echo $!", nil)
	if err != nil {
		return failed(runRoute+" starting a background sleep", err)
	}
	var pid int
	if _, err := fmt.Sscan(res.Stdout, &pid); err != nil {
		return fmt.Errorf("%s: the pid of the background sleep: %q: %w", runRoute, res.Stdout, err)
	}
	const route = "POST /sandboxes/{id}/process/{pid}/kill"
	if err := e.C.Process.Kill(ctx, sb.ID, pid, workspace.SIGKILL); err != nil {
		return failed(route+" of a background process", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := e.C.Process.Run(ctx, sb.ID, "kill", &workspace.RunCommandOptions{Args: []string{"-0", fmt.Sprint(pid)}})
		if err != nil {
			return failed(runRoute+" kill -0", err)
		}
		if r.ExitCode != 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: pid %d still runs 10 s after SIGKILL", route, pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	err = e.C.Process.Kill(ctx, sb.ID, 999999, workspace.SIGTERM)
	return wantAPIError(route+" of an unknown pid", err, workspace.CodeProcessNotFound, 404)
}

// allBytes is every byte value, twice, the second time reversed.
func allBytes() []byte {
	b := make([]byte, 512)
	for i := range 256 {
		b[i] = byte(i)
		b[511-i] = byte(i)
	}
	return b
}

// checkBinaryFiles: every byte value goes through write and read.
func checkBinaryFiles(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	p := e.Dir("binary") + "/all.bin"
	data := allBytes()
	if err := e.writeReadBack(ctx, ws.ID, p, data, "PUT /workspaces/{id}/files (encoding=base64)", "GET /workspaces/{id}/files?encoding=base64"); err != nil {
		return err
	}
	fi, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, p)
	if err != nil {
		return failed("GET /workspaces/{id}/files/info", err)
	}
	if fi.Size != int64(len(data)) {
		return mismatch("GET /workspaces/{id}/files/info", "size", fi.Size, len(data))
	}
	return nil
}

// checkBinaryRun: every byte value comes back through run's stdout and
// stderr.
func checkBinaryRun(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	p := e.Dir("binrun") + "/all.bin"
	data := allBytes()
	if err := e.C.Workspace.WriteFile(ctx, sb.WorkspaceID, p, data); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "cat " + p + "; cat " + p + " >&2"}})
	if err != nil {
		return failed(runRoute+" (encoding=base64)", err)
	}
	if err := differ(runRoute+" (encoding=base64)", "stdout", []byte(res.Stdout), data); err != nil {
		return err
	}
	return differ(runRoute+" (encoding=base64)", "stderr", []byte(res.Stderr), data)
}

// checkStdin (process.stdin): run feeds stdin and closes it; the bytes
// come back exactly through cat, on run and run/stream.
func checkStdin(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	in := []byte("line one\nline two\n")
	if e.Health.Has(workspace.FeatureBinary) {
		in = allBytes()
	}
	res, err := e.C.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Stdin: in})
	if err != nil {
		return failed(runRoute+" with stdin", err)
	}
	if err := differ(runRoute+" with stdin", "stdout of cat", []byte(res.Stdout), in); err != nil {
		return err
	}
	if !e.Health.Has(workspace.FeatureProcessStream) {
		return nil
	}
	var out strings.Builder
	for ev, err := range e.C.Process.RunStream(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Stdin: in}) {
		if err != nil {
			return failed(streamRoute+" with stdin", err)
		}
		if ev.Type == workspace.EventStdout {
			out.Write(ev.Data)
		}
	}
	return differ(streamRoute+" with stdin", "stdout of cat", []byte(out.String()), in)
}
