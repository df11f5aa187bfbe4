package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

const streamRoute = "GET /sandboxes/{id}/process/run/stream"

// checkFilesRaw (files.raw): streamed upload and download, and a Range
// read of a slice.
func checkFilesRaw(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	const route = "/workspaces/{id}/files/raw"
	p := e.Dir("raw") + "/blob.bin"
	data := bytes.Repeat(allBytes(), 130) // 66560 bytes
	if err := e.C.Workspace.Upload(ctx, ws.ID, p, bytes.NewReader(data), &workspace.TransferOptions{Size: int64(len(data))}); err != nil {
		return failed("PUT "+route, err)
	}
	got, err := download(ctx, e, ws.ID, p, nil)
	if err != nil {
		return failed("GET "+route, err)
	}
	if err := differ("GET "+route, "content", got, data); err != nil {
		return err
	}
	got, err = download(ctx, e, ws.ID, p, &workspace.TransferOptions{Offset: 1000, Length: 3000})
	if err != nil {
		return failed("GET "+route+" with Range", err)
	}
	return differ("GET "+route+" with Range: bytes=1000-3999", "content", got, data[1000:4000])
}

// download reads a whole file through Workspace.Download.
func download(ctx context.Context, e *Env, wsID, p string, opts *workspace.TransferOptions) ([]byte, error) {
	rc, err := e.C.Workspace.Download(ctx, wsID, p, opts)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// checkStreamEvents (process.stream): start (with a pid) first, then
// output on the right streams in order, then exit with the code, and
// nothing after it.
func checkStreamEvents(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	var types []workspace.EventType
	var stdout, stderr bytes.Buffer
	exit := -1
	for ev, err := range e.C.Process.RunStream(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "printf one; printf two >&2; printf three; exit 5"}}) {
		if errors.Is(err, workspace.ErrStreamInterrupted) {
			return fmt.Errorf("%s: the stream ended without an exit event (events %v): %w", streamRoute, types, err)
		}
		if err != nil {
			return fmt.Errorf("%s: events so far %v: %w", streamRoute, types, err)
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case workspace.EventStart:
			if len(types) != 1 {
				return fmt.Errorf("%s: start is event %d, want the first (events %v)", streamRoute, len(types), types)
			}
			if ev.PID <= 0 {
				return mismatch(streamRoute, "start pid", ev.PID, "> 0")
			}
		case workspace.EventStdout:
			stdout.Write(ev.Data)
		case workspace.EventStderr:
			stderr.Write(ev.Data)
		case workspace.EventExit:
			exit = ev.Code
		case workspace.EventError:
			return fmt.Errorf("%s: error event %q", streamRoute, ev.Message)
		}
		if len(types) > 1 && types[len(types)-2] == workspace.EventExit {
			return fmt.Errorf("%s: event %s after exit", streamRoute, ev.Type)
		}
	}
	if len(types) == 0 || types[0] != workspace.EventStart {
		return fmt.Errorf("%s: want a first start event, got events %v", streamRoute, types)
	}
	if types[len(types)-1] != workspace.EventExit {
		return fmt.Errorf("%s: want a last exit event, got events %v", streamRoute, types)
	}
	if exit != 5 {
		return mismatch(streamRoute, "exit code", exit, 5)
	}
	if err := differ(streamRoute, "stdout data", stdout.Bytes(), []byte("onethree")); err != nil {
		return err
	}
	return differ(streamRoute, "stderr data", stderr.Bytes(), []byte("two"))
}

// checkStreamKill (process.stream): the pid of a start event can be
// killed; the stream then ends with an exit event.
func checkStreamKill(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var types []workspace.EventType
	killed := false
	for ev, err := range e.C.Process.RunStream(sctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "echo ready; exec sleep 120"}}) {
		if err != nil {
			return fmt.Errorf("%s: events so far %v: %w", streamRoute, types, err)
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case workspace.EventStart:
			if err := e.C.Process.Kill(ctx, sb.ID, ev.PID, workspace.SIGKILL); err != nil {
				return failed("POST /sandboxes/{id}/process/{pid}/kill of the started pid", err)
			}
			killed = true
		case workspace.EventExit:
			if ev.Code == 0 {
				return mismatch(streamRoute+" after kill", "exit code", 0, "non-zero")
			}
		}
	}
	if !killed {
		return fmt.Errorf("%s: no start event (events %v)", streamRoute, types)
	}
	if types[len(types)-1] != workspace.EventExit {
		return fmt.Errorf("%s after kill: want a last exit event, got %v", streamRoute, types)
	}
	return nil
}

// checkPTY (pty): a shell in /workspace echoes output, exits with the
// code it was given; the PTY is listed while it lives; an unknown PTY id
// is 404/4101.
func checkPTY(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	const route = "WS /sandboxes/{id}/pty/{pty_id}"
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	s, err := e.C.PTY.Connect(pctx, sb.ID, &workspace.PTYOptions{Cols: 100, Rows: 30, Shell: "/bin/sh"})
	if err != nil {
		return failed("POST /sandboxes/{id}/pty", err)
	}
	defer s.Close()
	list, err := e.C.PTY.List(ctx, sb.ID)
	if err != nil {
		return failed("GET /sandboxes/{id}/pty", err)
	}
	if !slices.ContainsFunc(list, func(p *workspace.PTYInfo) bool { return p.ID == s.ID() }) {
		return fmt.Errorf("GET /sandboxes/{id}/pty: the open PTY %s is not listed", s.ID())
	}
	if _, err := s.WriteString("echo conf$((6*7))mark; pwd; exit 7\n"); err != nil {
		return failed(route+": write", err)
	}
	out, err := io.ReadAll(s)
	if err != nil {
		return failed(route+": read", err)
	}
	if !bytes.Contains(out, []byte("conf42mark")) {
		return fmt.Errorf("%s: output %q lacks the echoed conf42mark", route, out)
	}
	if !bytes.Contains(out, []byte("/workspace")) {
		return fmt.Errorf("%s: output %q lacks the start directory /workspace", route, out)
	}
	code, err := s.Wait(pctx)
	if err != nil {
		return failed(route+": exit frame", err)
	}
	if code != 7 {
		return mismatch(route, "exit frame exit_code", code, 7)
	}
	err = e.C.PTY.Resize(ctx, sb.ID, "conformance-no-such-pty", 80, 24)
	return wantAPIError("POST /sandboxes/{id}/pty/{pty_id}/resize of an unknown PTY", err, workspace.CodePTYNotFound, 404)
}

// checkAuth (auth): without the key every route but /health is
// 401/1005; /health answers.
func checkAuth(ctx context.Context, e *Env) error {
	u := e.opts.Unauthenticated
	if u == nil {
		return errors.New("the server lists auth: the check needs a client without the key (Options.Unauthenticated)")
	}
	if _, err := u.Health(ctx); err != nil {
		return failed("GET /health without a key", err)
	}
	_, err := u.Workspace.List(ctx)
	if err := wantAPIError("GET /workspaces without a key", err, workspace.CodeUnauthorized, 401); err != nil {
		return err
	}
	_, err = u.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: e.Name()})
	if err := wantAPIError("POST /workspaces without a key", err, workspace.CodeUnauthorized, 401); err != nil {
		return err
	}
	_, err = u.Sandbox.List(ctx, nil)
	return wantAPIError("GET /sandboxes without a key", err, workspace.CodeUnauthorized, 401)
}

// checkNFS: NFS.Open on the workspace's export reads what the file API
// wrote and the file API reads what NFS wrote. Skipped (passes) only
// when the workspace has no nfs_url.
func checkNFS(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	if ws.NFSURL == "" {
		return errors.New("POST /workspaces: nfs_url is empty: the workspace has no NFS export")
	}
	const route = "NFS " // the NFS protocol, not an HTTP route
	fsys, err := e.C.NFS.Open(ctx, ws.ID)
	if err != nil {
		return failed(route+"open "+ws.NFSURL, err)
	}
	defer fsys.Close()
	d := e.Dir("nfs")
	api := []byte(strings.Repeat("written by the file API\n", 100))
	if err := e.C.Workspace.WriteFile(ctx, ws.ID, d+"/api.txt", api); err != nil {
		return failed("PUT /workspaces/{id}/files", err)
	}
	got, err := fsys.ReadFile(d + "/api.txt")
	if err != nil {
		return failed(route+"READ", err)
	}
	if err := differ(route+"READ of a file written by the API", "content", got, api); err != nil {
		return err
	}
	viaNFS := allBytes()
	if err := fsys.MkdirAll(d+"/sub", 0o755); err != nil {
		return failed(route+"MKDIR", err)
	}
	if err := fsys.WriteFile(d+"/sub/nfs.bin", viaNFS, 0o644); err != nil {
		return failed(route+"WRITE", err)
	}
	fi, err := e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/sub/nfs.bin")
	if err != nil {
		return failed("GET /workspaces/{id}/files/info of a file written over NFS", err)
	}
	if fi.Size != int64(len(viaNFS)) {
		return mismatch("GET /workspaces/{id}/files/info of a file written over NFS", "size", fi.Size, len(viaNFS))
	}
	if e.Health.Has(workspace.FeatureBinary) {
		got, err := e.C.Workspace.ReadFile(ctx, ws.ID, d+"/sub/nfs.bin")
		if err != nil {
			return failed("GET /workspaces/{id}/files of a file written over NFS", err)
		}
		if err := differ("GET /workspaces/{id}/files of a file written over NFS", "content", got, viaNFS); err != nil {
			return err
		}
	}
	st, err := fsys.Stat(d + "/api.txt")
	if err != nil {
		return failed(route+"GETATTR", err)
	}
	if st.Size() != int64(len(api)) {
		return mismatch(route+"GETATTR", "size", st.Size(), len(api))
	}
	return nil
}

// checkStreamTimeoutDisconnect (process.stream): a timeout ends the
// stream with an error event of code 4002 after the partial output; a
// client that goes away gets its process group killed.
func checkStreamTimeoutDisconnect(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	var types []workspace.EventType
	var out bytes.Buffer
	var last error
	for ev, err := range e.C.Process.RunStream(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "printf partial; exec sleep 60"}, Timeout: time.Second}) {
		if err != nil {
			last = err
			break
		}
		types = append(types, ev.Type)
		if ev.Type == workspace.EventStdout {
			out.Write(ev.Data)
		}
		if ev.Type == workspace.EventError && ev.Code != int(workspace.CodeProcessTimeout) {
			return mismatch(streamRoute+" timeout", "error event code", ev.Code, workspace.CodeProcessTimeout)
		}
	}
	if !errors.Is(last, workspace.ErrProcessTimeout) || !slices.Contains(types, workspace.EventError) {
		return fmt.Errorf("%s with timeout 1000 ms: want an error event with code 4002, got events %v and error %v", streamRoute, types, last)
	}
	if err := differ(streamRoute+" timeout", "partial stdout", out.Bytes(), []byte("partial")); err != nil {
		return err
	}
	// Go away after the first output; the process must die.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pid := 0
	for ev, err := range e.C.Process.RunStream(sctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "echo $$; exec sleep 300"}}) {
		if err != nil {
			return failed(streamRoute, err)
		}
		if ev.Type == workspace.EventStart {
			pid = ev.PID
		}
		if ev.Type == workspace.EventStdout {
			break
		}
	}
	cancel()
	if pid <= 0 {
		return fmt.Errorf("%s: no start event with a pid", streamRoute)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := e.C.Process.Run(ctx, sb.ID, "kill", &workspace.RunCommandOptions{Args: []string{"-0", fmt.Sprint(pid)}})
		if err != nil {
			return failed(runRoute+" kill -0", err)
		}
		if r.ExitCode != 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: pid %d still runs 15 s after the client went away", streamRoute, pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
