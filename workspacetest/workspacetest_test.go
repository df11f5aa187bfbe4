package workspacetest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServerEndToEnd runs the real server and runtime: a file written
// through the API is read by a command in a sandbox and the other way
// round (ownership works for the sandbox uid).
func TestServerEndToEnd(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("k"))
	c := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	h, err := c.Health(ctx)
	if err != nil || h.Status != "healthy" {
		t.Fatalf("health %v, %v", h, err)
	}
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "e2e"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ws.NFSURL, "nfs://127.0.0.1:") || !strings.Contains(ws.NFSURL, "/"+ws.ID) { // with a key the export is <id>.<token>
		t.Fatalf("nfs_url %q", ws.NFSURL)
	}
	if err := c.Workspace.WriteFile(ctx, ws.ID, "dir/in.txt", []byte("from api")); err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Env: map[string]string{"X": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Process.Exec(ctx, sb.ID, "cat", "dir/in.txt")
	if err != nil || out != "from api" {
		t.Fatalf("cat = %q, %v", out, err)
	}
	res, err := c.Process.Shell(ctx, sb.ID, `echo "$X $WORKSPACE_SANDBOX_ID" > dir/out.txt && echo more >> dir/in.txt`, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("shell %+v, %v", res, err)
	}
	got, err := c.Workspace.ReadFile(ctx, ws.ID, "dir/out.txt")
	if err != nil || string(got) != "1 "+sb.ID+"\n" {
		t.Fatalf("out.txt = %q, %v", got, err)
	}
	if err := c.Workspace.Delete(ctx, ws.ID); !errors.Is(err, workspace.ErrWorkspaceHasActiveSandboxes) {
		t.Fatalf("delete busy workspace: %v", err)
	}
	if err := c.Sandbox.Delete(ctx, sb.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Workspace.Delete(ctx, ws.ID); err != nil {
		t.Fatal(err)
	}
}

// TestRestart: workspaces and files survive; running sandboxes come back
// stopped.
func TestRestart(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "keep", Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Workspace.WriteFile(ctx, ws.ID, "a.txt", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		t.Fatal(err)
	}
	srv.Restart()
	got, err := c.Workspace.Get(ctx, ws.ID)
	if err != nil || got.Name != "keep" || got.Metadata["k"] != "v" {
		t.Fatalf("workspace after restart %+v, %v", got, err)
	}
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "a.txt")
	if err != nil || string(data) != "kept" {
		t.Fatalf("file after restart %q, %v", data, err)
	}
	s, err := c.Sandbox.Get(ctx, sb.ID)
	if err != nil || s.State != workspace.StateStopped {
		t.Fatalf("sandbox after restart %+v, %v", s, err)
	}
	if _, err := c.Process.Exec(ctx, sb.ID, "true"); !errors.Is(err, workspace.ErrInvalidSandboxState) {
		t.Fatalf("run on stopped sandbox: %v", err)
	}
}
