package conformance

import (
	"archive/tar"
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

// nextChecks are the checks of the Part 3 features, coded against
// API.md's second-round calls.
func nextChecks() []Check {
	return []Check{
		{Name: "sandboxes/resources", Needs: NeedFixes, Run: inWorkspace(checkSandboxResources)},
		{Name: "process.detach/start-wait-events", Needs: workspace.FeatureProcessDetach, Run: inSandbox(checkDetachEvents)},
		{Name: "process.detach/stdin", Needs: workspace.FeatureProcessDetach, Run: inSandbox(checkDetachStdin)},
		{Name: "ports/connect", Needs: workspace.FeaturePorts, Run: inSandbox(checkPortsConnect)},
		{Name: "files.watch/events", Needs: workspace.FeatureFilesWatch, Run: inWorkspace(checkWatch)},
		{Name: "files.archive/roundtrip", Needs: workspace.FeatureFilesArchive, Run: inWorkspace(checkArchive)},
	}
}

const processesRoute = "/sandboxes/{id}/processes"

// checkDetachEvents: a started process runs to its end on its own; Wait
// gives its code, Events (and a later Attach) replay start, output, exit;
// List and Info describe it; an unknown pid is 404/4001.
func checkDetachEvents(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	p, err := e.C.Process.Start(ctx, sb.ID, "sh", &workspace.StartOptions{Args: []string{"-c", "printf detached; exit 3"}})
	if err != nil {
		return failed("POST "+processesRoute, err)
	}
	if p.PID <= 0 {
		return mismatch("POST "+processesRoute, "pid", p.PID, "> 0")
	}
	code, err := p.Wait(ctx)
	if err != nil {
		return failed("GET "+processesRoute+"/{pid}/events: wait", err)
	}
	if code != 3 {
		return mismatch("GET "+processesRoute+"/{pid}/events", "exit code", code, 3)
	}
	for _, how := range []string{"Start", "Attach"} {
		q := p
		if how == "Attach" {
			if q, err = e.C.Process.Attach(ctx, sb.ID, p.PID); err != nil {
				return failed("GET "+processesRoute+"/{pid} (attach)", err)
			}
		}
		out, exit, err := collect(ctx, q)
		if err != nil {
			return failed("GET "+processesRoute+"/{pid}/events after "+how, err)
		}
		if out != "detached" || exit != 3 {
			return mismatch("GET "+processesRoute+"/{pid}/events after "+how, "stdout/exit", fmt.Sprintf("%q/%d", out, exit), `"detached"/3`)
		}
	}
	info, err := p.Info(ctx)
	if err != nil {
		return failed("GET "+processesRoute+"/{pid}", err)
	}
	if info.PID != p.PID || info.Running || info.ExitCode != 3 || info.Command != "sh" {
		return mismatch("GET "+processesRoute+"/{pid}", "pid/running/exit_code/command", fmt.Sprint(info.PID, info.Running, info.ExitCode, info.Command), fmt.Sprint(p.PID, false, 3, "sh"))
	}
	list, err := e.C.Process.List(ctx, sb.ID)
	if err != nil {
		return failed("GET "+processesRoute, err)
	}
	if !slices.ContainsFunc(list, func(i *workspace.ProcessInfo) bool { return i.PID == p.PID }) {
		return fmt.Errorf("GET %s: the exited process %d is not listed", processesRoute, p.PID)
	}
	_, err = e.C.Process.Attach(ctx, sb.ID, 999999)
	return wantAPIError("GET "+processesRoute+"/{pid} of an unknown pid", err, workspace.CodeProcessNotFound, 404)
}

// collect reads a process's events to the end: its stdout and exit code.
func collect(ctx context.Context, p *workspace.Process) (string, int, error) {
	var out strings.Builder
	exit := -1
	var types []workspace.EventType
	for ev, err := range p.Events(ctx) {
		if err != nil {
			return out.String(), exit, fmt.Errorf("events %v: %w", types, err)
		}
		types = append(types, ev.Type)
		switch ev.Type {
		case workspace.EventStdout:
			out.Write(ev.Data)
		case workspace.EventExit:
			exit = ev.Code
		}
	}
	if len(types) == 0 || types[len(types)-1] != workspace.EventExit {
		return out.String(), exit, fmt.Errorf("want a last exit event, got %v", types)
	}
	return out.String(), exit, nil
}

// checkDetachStdin: a process started with open stdin reads what
// WriteStdin sends until CloseStdin.
func checkDetachStdin(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	p, err := e.C.Process.Start(ctx, sb.ID, "cat", &workspace.StartOptions{Stdin: []byte("first,"), OpenStdin: true})
	if err != nil {
		return failed("POST "+processesRoute+" with open_stdin", err)
	}
	if err := p.WriteStdin(ctx, []byte("second")); err != nil {
		return failed("POST "+processesRoute+"/{pid}/stdin", err)
	}
	if err := p.CloseStdin(ctx); err != nil {
		return failed("POST "+processesRoute+"/{pid}/stdin?close=true", err)
	}
	out, exit, err := collect(ctx, p)
	if err != nil {
		return failed("GET "+processesRoute+"/{pid}/events", err)
	}
	if out != "first,second" || exit != 0 {
		return mismatch("GET "+processesRoute+"/{pid}/events of cat", "stdout/exit", fmt.Sprintf("%q/%d", out, exit), `"first,second"/0`)
	}
	return nil
}

// checkPortsConnect: nothing listening is 502/8001; a server started in
// the sandbox (python3, when the sandbox has it) is reached through
// DialPort; PreviewURL answers an absolute URL.
func checkPortsConnect(ctx context.Context, e *Env, sb *workspace.Sandbox) error {
	var err error
	const port = 47613
	const route = "GET /sandboxes/{id}/ports/{port}/connect"
	_, err = e.C.Sandbox.DialPort(ctx, sb.ID, port)
	if err := wantAPIError(route+" with nothing listening", err, workspace.CodePortNotReachable, 502); err != nil {
		return err
	}
	u, err := e.C.Sandbox.PreviewURL(ctx, sb.ID, port)
	if err != nil {
		return failed("GET /sandboxes/{id}/ports/{port}/url", err)
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return mismatch("GET /sandboxes/{id}/ports/{port}/url", "url", u, "an absolute http(s) URL")
	}
	if res, err := e.C.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "command -v python3"}}); err != nil || res.ExitCode != 0 {
		return nil // no python3 in the sandbox: the refusal above is what can be checked
	}
	server := fmt.Sprintf("import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',%d))\ns.listen()\nc,_=s.accept()\nc.sendall(c.recv(100).upper())\nc.close()\n", port)
	p, err := e.C.Process.Start(ctx, sb.ID, "python3", &workspace.StartOptions{Args: []string{"-c", server}})
	if err != nil {
		return failed("POST "+processesRoute, err)
	}
	defer p.Kill(context.WithoutCancel(ctx), workspace.SIGKILL)
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := e.C.Sandbox.DialPort(ctx, sb.ID, port)
		if errors.Is(err, workspace.ErrPortNotReachable) && time.Now().Before(deadline) {
			select { // the server is not listening yet: poll again
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return failed(route, err)
		}
		defer conn.Close()
		if _, err := conn.Write([]byte("hello")); err != nil {
			return failed(route+": write", err)
		}
		got, err := io.ReadAll(conn)
		if err != nil {
			return failed(route+": read", err)
		}
		return differ(route, "echoed bytes", got, []byte("HELLO"))
	}
}

// checkWatch: a file written through the file API shows as an event with
// its workspace-relative path.
func checkWatch(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	d := e.Dir("watch")
	if err := e.C.Workspace.Mkdir(ctx, ws.ID, d+"/sub"); err != nil {
		return failed("POST /workspaces/{id}/files/mkdir", err)
	}
	const route = "GET /workspaces/{id}/files/watch"
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	want := d + "/sub/seen.txt"
	// The watch is set up when the first event is asked for: write the
	// file again until an event for it arrives.
	writeErr := make(chan error, 1)
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if err := e.C.Workspace.WriteFile(wctx, ws.ID, want, []byte("x")); err != nil && wctx.Err() == nil {
				writeErr <- err
				return
			}
			select {
			case <-wctx.Done():
				writeErr <- nil
				return
			case <-t.C:
			}
		}
	}()
	defer func() { cancel(); <-writeErr }()
	var seen []string
	for ev, err := range e.C.Workspace.Watch(wctx, ws.ID, d, &workspace.WatchOptions{Recursive: true}) {
		if err != nil {
			return fmt.Errorf("%s: events so far %v: %w", route, seen, err)
		}
		seen = append(seen, string(ev.Type)+" "+ev.Path)
		if strings.TrimPrefix(ev.Path, "/") == want && (ev.Type == workspace.FileEventCreate || ev.Type == workspace.FileEventWrite || ev.Type == workspace.FileEventRename) {
			return nil
		}
	}
	return fmt.Errorf("%s: no create/write event for %s (events %v)", route, want, seen)
}

// checkArchive: a tar with a file, a directory and a symlink lands under
// the path and comes back; an entry leaving the path is 403/7003 and
// nothing of that archive lands.
func checkArchive(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	d := e.Dir("archive")
	const route = "/workspaces/{id}/files/archive"
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := allBytes()
	tw.WriteHeader(&tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "dir/f.bin", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	tw.Write(body)
	tw.WriteHeader(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "dir/f.bin"})
	if err := tw.Close(); err != nil {
		return err
	}
	if err := e.C.Workspace.UploadArchive(ctx, ws.ID, d, bytes.NewReader(buf.Bytes())); err != nil {
		return failed("PUT "+route, err)
	}
	got, err := e.C.Workspace.ReadFile(ctx, ws.ID, d+"/dir/f.bin")
	if err != nil {
		return failed("PUT "+route+": read an extracted file", err)
	}
	if err := differ("PUT "+route, "extracted dir/f.bin", got, body); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := e.C.Workspace.DownloadArchive(ctx, ws.ID, d, &out); err != nil {
		return failed("GET "+route, err)
	}
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return failed("GET "+route+": read the tar", err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")
		entries[name] = h
		if name == "dir/f.bin" {
			b, err := io.ReadAll(tr)
			if err != nil {
				return failed("GET "+route+": read dir/f.bin", err)
			}
			if err := differ("GET "+route, "dir/f.bin in the tar", b, body); err != nil {
				return err
			}
		}
	}
	if h := entries["link"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "dir/f.bin" {
		return fmt.Errorf("GET %s: want the symlink link -> dir/f.bin as a link, got %+v", route, h)
	}
	if h := entries["dir"]; h == nil || h.Typeflag != tar.TypeDir {
		return fmt.Errorf("GET %s: want the directory dir, got %+v", route, h)
	}
	var bad bytes.Buffer
	tw = tar.NewWriter(&bad)
	tw.WriteHeader(&tar.Header{Name: "ok.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("ok"))
	tw.WriteHeader(&tar.Header{Name: "../escape.txt", Typeflag: tar.TypeReg, Mode: 0o644, Size: 2})
	tw.Write([]byte("no"))
	if err := tw.Close(); err != nil {
		return err
	}
	err = e.C.Workspace.UploadArchive(ctx, ws.ID, d+"/bad", bytes.NewReader(bad.Bytes()))
	if err := wantAPIError("PUT "+route+" with an entry ../escape.txt", err, workspace.CodePathNotAllowed, 403); err != nil {
		return err
	}
	_, err = e.C.Workspace.GetFileInfo(ctx, ws.ID, d+"/bad/ok.txt")
	return wantAPIError("PUT "+route+" refused: the archive's other entries must not land", err, workspace.CodeFileNotFound, 404)
}

// checkSandboxResources (Part 3): create params may carry resources; the
// sandbox echoes the effective values, never above what was asked.
func checkSandboxResources(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	// disk_mb is left out: a server that cannot enforce a disk quota
	// refuses it (400/1002) rather than pretending (PROTOCOL.md Part 3).
	want := workspace.Resources{CPUs: 1, MemoryMB: 512, PIDs: 256}
	sb, err := e.NewSandbox(ctx, ws.ID, &workspace.CreateSandboxParams{Resources: &want})
	if err != nil {
		return err
	}
	const route = "POST /sandboxes with resources"
	r := sb.Resources
	if r == nil {
		return fmt.Errorf("%s: the sandbox has no resources object (want the effective values)", route)
	}
	if r.CPUs <= 0 || r.CPUs > want.CPUs || r.MemoryMB <= 0 || r.MemoryMB > want.MemoryMB || r.PIDs <= 0 || r.PIDs > want.PIDs {
		return mismatch(route, "effective resources", *r, fmt.Sprintf("each in (0, %+v]", want))
	}
	got, err := e.C.Sandbox.Get(ctx, sb.ID)
	if err != nil {
		return failed("GET /sandboxes/{id}", err)
	}
	if got.Resources == nil || *got.Resources != *r {
		return mismatch("GET /sandboxes/{id}", "resources", got.Resources, *r)
	}
	return e.C.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true})
}
