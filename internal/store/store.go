// Package store persists workspaces and sandbox records of the reference
// server in SQLite (modernc.org/sqlite, no cgo).
//
// The store is write-through storage only: the server keeps the live state
// in memory and calls the store on changes, so hot paths never touch SQL.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// Workspace is a stored workspace.
type Workspace struct {
	ID        string
	Name      *string         // nil when unnamed
	Metadata  json.RawMessage // a JSON object; never empty
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Sandbox is a stored sandbox record.
type Sandbox struct {
	ID           string
	WorkspaceID  string
	Name         *string
	Template     string
	State        string
	Env          map[string]string
	Metadata     json.RawMessage
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Timeout      *int64 // seconds; nil when none was given
	ErrorMessage *string
	Resources    json.RawMessage // effective resources (a JSON object); nil when none
}

// Store is a SQLite-backed store. Safe for concurrent use.
type Store struct {
	db *sql.DB
}

const schema = `
CREATE TABLE IF NOT EXISTS workspaces (
	id TEXT PRIMARY KEY,
	name TEXT,
	metadata TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sandboxes (
	id TEXT PRIMARY KEY,
	workspace_id TEXT NOT NULL,
	name TEXT,
	template TEXT NOT NULL,
	state TEXT NOT NULL,
	env TEXT NOT NULL,
	metadata TEXT NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	timeout INTEGER,
	error_message TEXT
);
CREATE INDEX IF NOT EXISTS sandboxes_workspace ON sandboxes(workspace_id);
`

// Open opens (creating if needed) the database at path in WAL mode with
// synchronous=FULL: a write that returned is on disk, so what the server
// answered survives a crash or power loss.
func Open(path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and this avoids
	// SQLITE_BUSY between our own connections.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: init schema: %w", err)
	}
	if err := migrate(db); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTS(v string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, v)
	return t
}

// PutWorkspace inserts or replaces w.
func (s *Store) PutWorkspace(ctx context.Context, w *Workspace) error {
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO workspaces(id,name,metadata,created_at,updated_at) VALUES(?,?,?,?,?)`,
		w.ID, w.Name, string(w.Metadata), ts(w.CreatedAt), ts(w.UpdatedAt))
	if err != nil {
		return fmt.Errorf("store: put workspace: %w", err)
	}
	return nil
}

// DeleteWorkspace deletes the workspace id and every sandbox record bound
// to it. ErrNotFound when it does not exist.
func (s *Store) DeleteWorkspace(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: delete workspace: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM sandboxes WHERE workspace_id=?`, id); err != nil {
		return fmt.Errorf("store: delete workspace sandboxes: %w", err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM workspaces WHERE id=?`, id)
	if err != nil {
		return fmt.Errorf("store: delete workspace: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: delete workspace: %w", err)
	}
	return nil
}

// Workspaces returns every workspace ordered by creation time.
func (s *Store) Workspaces(ctx context.Context) ([]*Workspace, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id,name,metadata,created_at,updated_at FROM workspaces ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list workspaces: %w", err)
	}
	defer rows.Close()
	var out []*Workspace
	for rows.Next() {
		var w Workspace
		var name sql.NullString
		var meta, c, u string
		if err := rows.Scan(&w.ID, &name, &meta, &c, &u); err != nil {
			return nil, fmt.Errorf("store: list workspaces: %w", err)
		}
		if name.Valid {
			w.Name = &name.String
		}
		w.Metadata = json.RawMessage(meta)
		w.CreatedAt, w.UpdatedAt = parseTS(c), parseTS(u)
		out = append(out, &w)
	}
	return out, rows.Err()
}

// PutSandbox inserts or replaces sb.
func (s *Store) PutSandbox(ctx context.Context, sb *Sandbox) error {
	env, err := json.Marshal(sb.Env)
	if err != nil {
		return fmt.Errorf("store: put sandbox: %w", err)
	}
	if sb.Env == nil {
		env = []byte("{}")
	}
	var res *string
	if sb.Resources != nil {
		r := string(sb.Resources)
		res = &r
	}
	_, err = s.db.ExecContext(ctx, `INSERT OR REPLACE INTO sandboxes(id,workspace_id,name,template,state,env,metadata,created_at,updated_at,timeout,error_message,resources) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`,
		sb.ID, sb.WorkspaceID, sb.Name, sb.Template, sb.State, string(env), string(sb.Metadata),
		ts(sb.CreatedAt), ts(sb.UpdatedAt), sb.Timeout, sb.ErrorMessage, res)
	if err != nil {
		return fmt.Errorf("store: put sandbox: %w", err)
	}
	return nil
}

// DeleteSandbox deletes the sandbox record id; deleting a missing one is
// not an error.
func (s *Store) DeleteSandbox(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sandboxes WHERE id=?`, id); err != nil {
		return fmt.Errorf("store: delete sandbox: %w", err)
	}
	return nil
}

// Sandboxes returns every sandbox record ordered by creation time.
func (s *Store) Sandboxes(ctx context.Context) ([]*Sandbox, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id,workspace_id,name,template,state,env,metadata,created_at,updated_at,timeout,error_message,resources FROM sandboxes ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: list sandboxes: %w", err)
	}
	defer rows.Close()
	var out []*Sandbox
	for rows.Next() {
		var sb Sandbox
		var name, errMsg, res sql.NullString
		var timeout sql.NullInt64
		var env, meta, c, u string
		if err := rows.Scan(&sb.ID, &sb.WorkspaceID, &name, &sb.Template, &sb.State, &env, &meta, &c, &u, &timeout, &errMsg, &res); err != nil {
			return nil, fmt.Errorf("store: list sandboxes: %w", err)
		}
		if name.Valid {
			sb.Name = &name.String
		}
		if errMsg.Valid {
			sb.ErrorMessage = &errMsg.String
		}
		if timeout.Valid {
			sb.Timeout = &timeout.Int64
		}
		if err := json.Unmarshal([]byte(env), &sb.Env); err != nil {
			return nil, fmt.Errorf("store: sandbox %s env: %w", sb.ID, err)
		}
		sb.Metadata = json.RawMessage(meta)
		if res.Valid {
			sb.Resources = json.RawMessage(res.String)
		}
		sb.CreatedAt, sb.UpdatedAt = parseTS(c), parseTS(u)
		out = append(out, &sb)
	}
	return out, rows.Err()
}

// ReconcileMessage is the error_message of sandboxes Reconcile ended.
const ReconcileMessage = "the server stopped while the sandbox was live"

// Reconcile marks every sandbox recorded as starting, running or stopping
// as error with ReconcileMessage (their processes died with the previous
// server) and returns how many it changed. Call it once at startup.
func (s *Store) Reconcile(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE sandboxes SET state='error', error_message=?, updated_at=? WHERE state IN ('starting','running','stopping')`, ReconcileMessage, ts(now))
	if err != nil {
		return 0, fmt.Errorf("store: reconcile: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
