package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreRoundTripAndReconcile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "w.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	name := "n"
	if err := s.PutWorkspace(ctx, &Workspace{ID: "w1", Name: &name, Metadata: json.RawMessage(`{"a":1}`), CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	timeout := int64(5)
	for _, st := range []string{"running", "error", "starting"} {
		if err := s.PutSandbox(ctx, &Sandbox{ID: "s-" + st, WorkspaceID: "w1", Template: "default", State: st, Env: map[string]string{"A": "b"}, Metadata: json.RawMessage(`{}`), CreatedAt: now, UpdatedAt: now, Timeout: &timeout}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Reconcile(ctx, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("reconcile = %d, %v; want 2", n, err)
	}
	ws, err := s.Workspaces(ctx)
	if err != nil || len(ws) != 1 || *ws[0].Name != "n" || string(ws[0].Metadata) != `{"a":1}` || !ws[0].CreatedAt.Equal(now) {
		t.Fatalf("workspaces %+v, %v", ws, err)
	}
	sbs, err := s.Sandboxes(ctx)
	if err != nil || len(sbs) != 3 {
		t.Fatalf("sandboxes %v, %v", sbs, err)
	}
	for _, sb := range sbs {
		if sb.State != "error" || sb.Env["A"] != "b" || *sb.Timeout != 5 || sb.Name != nil {
			t.Fatalf("sandbox %+v", sb)
		}
		if sb.ID != "s-error" && (sb.ErrorMessage == nil || *sb.ErrorMessage != ReconcileMessage) {
			t.Fatalf("reconciled sandbox %s: error_message %v", sb.ID, sb.ErrorMessage)
		}
	}
	if err := s.DeleteWorkspace(ctx, "w1"); err != nil {
		t.Fatal(err)
	}
	if sbs, _ := s.Sandboxes(ctx); len(sbs) != 0 {
		t.Fatalf("sandboxes of a deleted workspace remain: %d", len(sbs))
	}
	if err := s.DeleteWorkspace(ctx, "w1"); err != ErrNotFound {
		t.Fatalf("second delete = %v", err)
	}
}
