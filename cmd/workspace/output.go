package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// printJSON writes v as indented JSON (for -o json).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns (for the default output).
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) {
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// ago formats a timestamp for a table: RFC 3339 in UTC, or "-" when zero.
func ago(ts time.Time) string {
	if ts.IsZero() {
		return "-"
	}
	return ts.UTC().Format(time.RFC3339)
}

// The JSON shapes of -o json: the wire protocol's snake_case names.

type workspaceJSON struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	NFSURL    string            `json:"nfs_url,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

func toWorkspaceJSON(w *workspace.Workspace) workspaceJSON {
	return workspaceJSON{ID: w.ID, Name: w.Name, NFSURL: w.NFSURL, Metadata: w.Metadata, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

type sandboxJSON struct {
	ID           string            `json:"id"`
	WorkspaceID  string            `json:"workspace_id"`
	Name         string            `json:"name"`
	Template     string            `json:"template"`
	State        string            `json:"state"`
	Env          map[string]string `json:"env,omitempty"`
	Metadata     map[string]string `json:"metadata,omitempty"`
	TimeoutSecs  int64             `json:"timeout"`
	ErrorMessage string            `json:"error_message,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

func toSandboxJSON(s *workspace.Sandbox) sandboxJSON {
	return sandboxJSON{
		ID: s.ID, WorkspaceID: s.WorkspaceID, Name: s.Name, Template: s.Template, State: string(s.State),
		Env: s.Env, Metadata: s.Metadata, TimeoutSecs: int64(s.Timeout / time.Second), ErrorMessage: s.ErrorMessage,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

type fileJSON struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modified_at"`
}

func toFileJSON(f *workspace.FileInfo) fileJSON {
	return fileJSON{Name: f.Name, Path: f.Path, Type: string(f.Type), Size: f.Size, ModifiedAt: f.ModifiedAt}
}

// printList prints items as a JSON list (-o json), or as a table of header
// and one row per item.
func printList[T, J any](a *app, items []T, toJSON func(T) J, header []string, row func(T) []string) error {
	if a.output == "json" {
		return printJSON(a.stdout, jsonList(items, toJSON))
	}
	t := newTable(a.stdout, header...)
	for _, it := range items {
		t.row(row(it)...)
	}
	return t.flush()
}

// printItem prints v as JSON (-o json), or else line as one line of words
// (typically an ID).
func (a *app) printItem(v any, line ...any) error {
	if a.output == "json" {
		return printJSON(a.stdout, v)
	}
	_, err := fmt.Fprintln(a.stdout, line...)
	return err
}

// jsonList maps a slice for JSON output; it is never null.
func jsonList[T, J any](in []T, f func(T) J) []J {
	out := make([]J, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}
