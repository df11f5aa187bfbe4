//go:build !windows

package server

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/internal/store"
	"github.com/elevo/workspace-sdk-go/internal/wire"
)

func TestHealthAndFeatures(t *testing.T) {
	ts := newTestServer(t, "", nil)
	m := ts.want(ts.do("GET", "/api/v1/health", nil), 200, 0)
	feats := m["features"].([]any)
	has := func(f string) bool { return slices.Contains(feats, any(f)) }
	if m["status"] != "healthy" || m["version"] != Version || !has("binary") || !has("process.stdin") || has("auth") {
		t.Fatalf("health %v", m)
	}
	base := newTestServer(t, "", func(c *Config) { c.BaseMode = true })
	m = base.want(base.do("GET", "/api/v1/health", nil), 200, 0)
	if _, ok := m["features"]; ok {
		t.Fatalf("base mode advertises features: %v", m)
	}
}

func TestAuth(t *testing.T) {
	ts := newTestServer(t, "", func(c *Config) { c.APIKey = "sekret" })
	ts.want(ts.do("GET", "/api/v1/workspaces", nil), 200, 0)
	m := ts.want(ts.do("GET", "/api/v1/health", nil), 200, 0)
	if !slices.Contains(m["features"].([]any), any("auth")) {
		t.Fatalf("auth not advertised: %v", m)
	}
	for _, key := range []string{"", "wrong", "sekret2"} {
		ts.key = key
		r := ts.do("GET", "/api/v1/workspaces", nil)
		m := ts.want(r, 401, 1005)
		if m["message"] != "Unauthorized" {
			t.Fatalf("401 body %s", r.body)
		}
		ts.want(ts.do("GET", "/api/v1/nope", nil), 401, 1005)
		ts.want(ts.do("GET", "/api/v1/health", nil), 200, 0)
	}
}

func TestErrorShapes(t *testing.T) {
	ts := newTestServer(t, "", nil)
	ts.want(ts.do("POST", "/api/v1/workspaces", "{not json"), 400, wire.CodeInvalidRequest)
	ts.want(ts.do("POST", "/api/v1/workspaces", `{"name": 5}`), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("POST", "/api/v1/workspaces", `[]`), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("POST", "/api/v1/workspaces", `{"metadata": "x"}`), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("POST", "/api/v1/sandboxes", `{}`), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("GET", "/api/v1/nope", nil), 404, wire.CodeInvalidRequest)
	r := ts.do("PATCH", "/api/v1/workspaces", nil)
	ts.want(r, 405, wire.CodeInvalidRequest)
	ts.want(ts.do("GET", "/api/v1/workspaces/nope", nil), 404, wire.CodeWorkspaceNotFound)
	ts.want(ts.do("GET", "/api/v1/sandboxes/nope", nil), 404, wire.CodeSandboxNotFound)
	ts.want(ts.do("GET", "/api/v1/sandboxes?state=bogus", nil), 400, wire.CodeInvalidParameter)
	// A body-less create is {} in full mode.
	ts.want(ts.do("POST", "/api/v1/workspaces", ""), 200, 0)

	base := newTestServer(t, "", func(c *Config) { c.BaseMode = true })
	for _, tc := range []struct {
		body   string
		status int
	}{{"{not json", 400}, {`{"name": 5}`, 422}} {
		r := base.do("POST", "/api/v1/workspaces", tc.body)
		if r.status != tc.status || !strings.HasPrefix(r.ctype, "text/plain") {
			t.Fatalf("base mode %q: %d %s %s", tc.body, r.status, r.ctype, r.body)
		}
	}
	if r := base.do("POST", "/api/v1/sandboxes", `{}`); r.status != 422 {
		t.Fatalf("base mode missing workspace_id: %d %s", r.status, r.body)
	}
	req := base.do("GET", "/api/v1/nope", nil)
	if req.status != 404 || strings.HasPrefix(req.ctype, "application/json") {
		t.Fatalf("base mode 404: %d %s", req.status, req.ctype)
	}
}

func TestBaseModeFilesAndLimits(t *testing.T) {
	ts := newTestServer(t, "", func(c *Config) { c.BaseMode = true })
	ws := ts.createWorkspace()
	// encoding is ignored: the text is written as is.
	ts.want(ts.do("PUT", filesURL(ws, "", "f"), map[string]any{"content": "aGk=", "encoding": "base64"}), 200, 0)
	m := ts.want(ts.do("GET", filesURL(ws, "", "f")+"&encoding=base64", nil), 200, 0)
	if m["content"] != "aGk=" {
		t.Fatalf("base mode read %v", m)
	}
	os.WriteFile(filepath.Join(ts.wsDir, ws, "bad"), []byte{0xff}, 0o644)
	ts.want(ts.do("GET", filesURL(ws, "", "bad"), nil), 500, wire.CodeInternal)
	big := `{"content":"` + strings.Repeat("a", 3<<20) + `"}`
	if r := ts.do("PUT", filesURL(ws, "", "big"), big); r.status != 413 {
		t.Fatalf("base mode big body: %d", r.status)
	}
}

func waitState(t *testing.T, ts *testServer, id, state string) {
	t.Helper()
	eventually(t, "sandbox "+id+" reaches "+state, func() bool {
		return ts.want(ts.do("GET", "/api/v1/sandboxes/"+id, nil), 200, 0)["state"] == state
	})
}

func TestSandboxLifecycle(t *testing.T) {
	ts := newTestServer(t, "", func(c *Config) { c.MaxSandboxes = 2 })
	ws := ts.createWorkspace()
	ts.want(ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": "nope"}), 404, wire.CodeWorkspaceNotFound)
	ts.want(ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws, "template": "nope:1"}), 404, wire.CodeTemplateNotFound)

	sb := ts.createSandbox(ws, map[string]any{"env": map[string]string{"A": "1"}, "name": "n", "metadata": map[string]string{"k": "v"}})
	id := sb["id"].(string)
	if sb["state"] != "running" || sb["template"] != "default" || sb["name"] != "n" || sb["timeout"] != nil || sb["error_message"] != nil {
		t.Fatalf("created %v", sb)
	}
	spec := ts.fake.started[0]
	if spec.Env["WORKSPACE_SANDBOX_ID"] != id || spec.Env["WORKSPACE_WORKSPACE_ID"] != ws || spec.Env["A"] != "1" || spec.WorkspaceDir != filepath.Join(ts.wsDir, ws) {
		t.Fatalf("spec %+v", spec)
	}

	run := func(body map[string]any) resp { return ts.do("POST", "/api/v1/sandboxes/"+id+"/process/run", body) }
	m := ts.want(run(map[string]any{"command": "echo", "args": []string{"a", "b"}}), 200, 0)
	if m["stdout"] != "a b\n" || m["exit_code"].(float64) != 0 {
		t.Fatalf("run %v", m)
	}
	m = ts.want(run(map[string]any{"command": "cat", "stdin": "aGk=", "encoding": "base64"}), 200, 0)
	if m["stdout"] != "aGk=" || m["encoding"] != "base64" {
		t.Fatalf("stdin base64 %v", m)
	}
	m = ts.want(run(map[string]any{"command": "bytes"}), 200, 0)
	if m["stdout"] != "\uFFFDa\uFFFD" {
		t.Fatalf("invalid utf-8 %q", m["stdout"])
	}
	m = ts.want(run(map[string]any{"command": "sleep", "timeout": 20}), 504, wire.CodeProcessTimeout)
	if m["stdout"] != "partial" || m["stderr"] != "" {
		t.Fatalf("timeout body %v", m)
	}
	ts.want(run(map[string]any{"args": []string{"x"}}), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("POST", "/api/v1/sandboxes/"+id+"/process/77/kill", map[string]any{}), 404, wire.CodeProcessNotFound)
	ts.want(ts.do("POST", "/api/v1/sandboxes/"+id+"/process/1/kill", map[string]any{"signal": 9}), 200, 0)
	ts.want(ts.do("POST", "/api/v1/sandboxes/"+id+"/process/x/kill", map[string]any{}), 400, wire.CodeInvalidParameter)

	// A running sandbox blocks its workspace's delete.
	ts.want(ts.do("DELETE", "/api/v1/workspaces/"+ws, nil), 409, wire.CodeWorkspaceHasActiveSandboxes)

	// The limit counts live sandboxes.
	sb2 := ts.createSandbox(ws, map[string]any{"timeout": 1})
	if sb2["timeout"].(float64) != 1 {
		t.Fatalf("timeout echo %v", sb2)
	}
	ts.want(ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}), 429, wire.CodeSandboxLimitExceeded)
	// The sandbox timeout stops it, and frees a slot.
	waitState(t, ts, sb2["id"].(string), "stopped")
	ts.want(ts.do("POST", "/api/v1/sandboxes/"+sb2["id"].(string)+"/process/run", map[string]any{"command": "echo"}), 400, wire.CodeInvalidSandboxState)
	m = ts.want(ts.do("GET", "/api/v1/sandboxes?state=stopped", nil), 200, 0)
	if m["total"].(float64) != 1 {
		t.Fatalf("list stopped %v", m)
	}

	// Graceful delete.
	ts.want(ts.do("DELETE", "/api/v1/sandboxes/"+id, nil), 200, 0)
	ts.want(ts.do("GET", "/api/v1/sandboxes/"+id, nil), 404, wire.CodeSandboxNotFound)

	// Failed start: 5xx, state error with a message.
	ts.fake.failNext = errors.New("boom")
	ts.want(ts.do("POST", "/api/v1/sandboxes", map[string]any{"workspace_id": ws}), 500, wire.CodeInternal)
	m = ts.want(ts.do("GET", "/api/v1/sandboxes?state=error", nil), 200, 0)
	if m["total"].(float64) != 1 || m["sandboxes"].([]any)[0].(map[string]any)["error_message"] != "boom" {
		t.Fatalf("failed sandbox %v", m)
	}
	// Stopped and failed sandboxes go with their workspace.
	ts.want(ts.do("DELETE", "/api/v1/workspaces/"+ws, nil), 200, 0)
	m = ts.want(ts.do("GET", "/api/v1/sandboxes", nil), 200, 0)
	if m["total"].(float64) != 0 {
		t.Fatalf("sandboxes left %v", m)
	}
	if _, err := os.Stat(filepath.Join(ts.wsDir, ws)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("workspace dir left: %v", err)
	}
}

func TestBaseModeSandbox(t *testing.T) {
	ts := newTestServer(t, "", func(c *Config) { c.BaseMode = true })
	ws := ts.createWorkspace()
	id := ts.createSandbox(ws, nil)["id"].(string)
	ts.want(ts.do("DELETE", "/api/v1/sandboxes/"+id, nil), 400, wire.CodeInvalidSandboxState)
	ts.want(ts.do("DELETE", "/api/v1/sandboxes/"+id+"?force=true", nil), 200, 0)
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServer(t, dir, nil)
	ws := ts.createWorkspace()
	ts.want(ts.do("PUT", filesURL(ws, "", "keep/me.txt"), map[string]any{"content": "kept"}), 200, 0)
	id := ts.createSandbox(ws, nil)["id"].(string)
	// Simulate a crash: the store still says running.
	ts.mu.Lock()
	ts.closed = true
	ts.mu.Unlock()
	ts.store.Close()

	ts2 := newTestServer(t, dir, nil)
	m := ts2.want(ts2.do("GET", "/api/v1/workspaces/"+ws, nil), 200, 0)
	if m["name"] != "w" {
		t.Fatalf("workspace after restart %v", m)
	}
	m = ts2.want(ts2.do("GET", filesURL(ws, "", "keep/me.txt"), nil), 200, 0)
	if m["content"] != "kept" {
		t.Fatalf("file after restart %v", m)
	}
	m = ts2.want(ts2.do("GET", "/api/v1/sandboxes/"+id, nil), 200, 0)
	if m["state"] != "error" || m["error_message"] != store.ReconcileMessage {
		t.Fatalf("sandbox after restart %v", m)
	}
	ts2.want(ts2.do("DELETE", "/api/v1/workspaces/"+ws, nil), 200, 0)
	// Stop the first server's fake sandbox so its watcher ends.
	for _, e := range ts.sandboxes {
		if e.rt != nil {
			e.rt.Stop(0)
		}
	}
}
