package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrateAddsResources opens a database made before the resources
// column: the column is added, old rows read with none, new ones keep it.
func TestMigrateAddsResources(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// schema's CREATE TABLE is the old one: resources comes by migrate.
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO sandboxes(id,workspace_id,template,state,env,metadata,created_at,updated_at) VALUES('old','w','default','stopped','{}','{}','2026-01-01T00:00:00Z','2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	sbs, err := s.Sandboxes(ctx)
	if err != nil || len(sbs) != 1 || sbs[0].Resources != nil {
		t.Fatalf("old row: %+v %v", sbs, err)
	}
	now := time.Now()
	if err := s.PutSandbox(ctx, &Sandbox{ID: "new", WorkspaceID: "w", Template: "default", State: "running",
		Metadata: []byte("{}"), CreatedAt: now, UpdatedAt: now, Resources: []byte(`{"pids":64}`)}); err != nil {
		t.Fatal(err)
	}
	sbs, err = s.Sandboxes(ctx)
	if err != nil || len(sbs) != 2 || string(sbs[1].Resources) != `{"pids":64}` {
		t.Fatalf("rows %+v %v", sbs, err)
	}
}
