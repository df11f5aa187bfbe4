package conformance

import (
	"bytes"
	"context"
	"errors"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
)

// bigSize is over the default JSON read and run output limits (16 MiB).
const bigSize = 17 << 20

// checkLimitJSONRead (Part 3, slow): a JSON read of a file over the JSON
// read limit is 413/1006 with a message naming files/raw; on a server
// with files.raw, where the SDK reads over it, the file comes back whole.
func checkLimitJSONRead(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	p := e.Dir("big") + "/big.bin"
	data := bytes.Repeat([]byte("0123456789abcdef"), bigSize/16)
	var werr error
	if e.Health.Has(workspace.FeatureFilesRaw) {
		werr = e.C.Workspace.Upload(ctx, ws.ID, p, bytes.NewReader(data), &workspace.TransferOptions{Size: int64(len(data))})
	} else {
		werr = e.C.Workspace.WriteFile(ctx, ws.ID, p, data)
	}
	if werr != nil {
		return failed("PUT /workspaces/{id}/files(/raw) of 17 MiB", werr)
	}
	const route = "GET /workspaces/{id}/files of 17 MiB"
	got, err := e.C.Workspace.ReadFile(ctx, ws.ID, p)
	if e.Health.Has(workspace.FeatureFilesRaw) {
		// The SDK reads over files/raw here: the big file must come back
		// whole (the JSON route's limit is not reachable through it).
		if err != nil {
			return failed("GET /workspaces/{id}/files/raw of 17 MiB", err)
		}
		return differ("GET /workspaces/{id}/files/raw of 17 MiB", "content", got, data)
	}
	if err := wantAPIError(route, err, workspace.CodeRequestTooLarge, 413); err != nil {
		return err
	}
	var ae *workspace.Error
	errors.As(err, &ae)
	if !strings.Contains(ae.Message+ae.Details, "files/raw") {
		return mismatch(route, "message", ae.Message, "a message naming files/raw")
	}
	return nil
}

// checkLimitRunTruncation (Part 3, slow): run output over the limit is
// cut and flagged per stream; the process still runs to its end.
func checkLimitRunTruncation(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "head -c 17825792 /dev/zero; echo small >&2; exit 4"}})
	if err != nil {
		return failed(runRoute+" printing 17 MiB", err)
	}
	if !res.StdoutTruncated || res.StderrTruncated {
		return mismatch(runRoute+" printing 17 MiB", "stdout_truncated/stderr_truncated", [2]bool{res.StdoutTruncated, res.StderrTruncated}, [2]bool{true, false})
	}
	if res.ExitCode != 4 || res.Stderr != "small\n" {
		return mismatch(runRoute+" printing 17 MiB", "exit_code/stderr (the process runs to its end)", res.ExitCode, 4)
	}
	if len(res.Stdout) >= bigSize {
		return mismatch(runRoute+" printing 17 MiB", "stdout length", len(res.Stdout), "< 17 MiB")
	}
	return nil
}
