package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	workspace "github.com/elevo/workspace-sdk-go"
)

// checkHealth: GET /health says healthy and names a version.
func checkHealth(ctx context.Context, e *Env) error {
	h, err := e.C.Health(ctx)
	if err != nil {
		return failed("GET /health", err)
	}
	if h.Status != "healthy" {
		return mismatch("GET /health", "status", h.Status, "healthy")
	}
	if h.Version == "" {
		return fmt.Errorf("GET /health: empty version")
	}
	return nil
}

// checkWorkspaceCRUD: create (name, metadata), get, list, delete, then
// get and delete of the deleted workspace are 404/7001.
func checkWorkspaceCRUD(ctx context.Context, e *Env) error {
	meta := map[string]string{"conformance": "yes", "k": "v"}
	name := e.Name()
	ws, err := e.C.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: name, Metadata: meta})
	if ws != nil {
		e.track(ws.ID)
	}
	if err != nil {
		return failed("POST /workspaces", err)
	}
	if ws.ID == "" {
		return fmt.Errorf("POST /workspaces: empty id")
	}
	if ws.Metadata["k"] != "v" || ws.Metadata["conformance"] != "yes" {
		return mismatch("POST /workspaces", "metadata", ws.Metadata, meta)
	}
	if ws.CreatedAt.IsZero() || ws.UpdatedAt.IsZero() {
		return fmt.Errorf("POST /workspaces: created_at/updated_at missing")
	}
	if ws.Name != name {
		return mismatch("POST /workspaces", "name", ws.Name, name)
	}
	if ws.NFSURL != "" && !strings.HasPrefix(ws.NFSURL, "nfs://") {
		return mismatch("POST /workspaces", "nfs_url", ws.NFSURL, "nfs://host:port/<export path> or null")
	}
	anon, err := e.C.Workspace.Create(ctx, nil)
	if anon != nil {
		e.track(anon.ID)
	}
	if err != nil {
		return failed("POST /workspaces {}", err)
	}
	if anon.Name != "" || anon.ID == "" || anon.ID == ws.ID {
		return mismatch("POST /workspaces {}", "id/name", anon.ID+"/"+anon.Name, "a new id/null name")
	}
	// Nameless, so nobody could tell it is ours: remove it at once.
	if err := e.C.Workspace.Delete(ctx, anon.ID); err != nil {
		return failed("DELETE /workspaces/{id}", err)
	}
	got, err := e.C.Workspace.Get(ctx, ws.ID)
	if err != nil {
		return failed("GET /workspaces/{id}", err)
	}
	if got.ID != ws.ID || got.Name != ws.Name || got.Metadata["k"] != "v" {
		return mismatch("GET /workspaces/{id}", "workspace", *got, *ws)
	}
	list, err := e.C.Workspace.List(ctx)
	if err != nil {
		return failed("GET /workspaces", err)
	}
	if !slices.ContainsFunc(list, func(w *workspace.Workspace) bool { return w.ID == ws.ID }) {
		return fmt.Errorf("GET /workspaces: the new workspace %s is not listed", ws.ID)
	}
	if err := e.C.Workspace.Delete(ctx, ws.ID); err != nil {
		return failed("DELETE /workspaces/{id}", err)
	}
	_, err = e.C.Workspace.Get(ctx, ws.ID)
	if err := wantAPIError("GET /workspaces/{id} after delete", err, workspace.CodeWorkspaceNotFound, 404); err != nil {
		return err
	}
	if !errors.Is(err, workspace.ErrWorkspaceNotFound) || !errors.Is(err, workspace.ErrNotFound) {
		return fmt.Errorf("GET /workspaces/{id} after delete: %v does not match ErrWorkspaceNotFound and ErrNotFound", err)
	}
	_, err = e.C.Workspace.ListFiles(ctx, ws.ID, "")
	return wantAPIError("GET /workspaces/{id}/files/list of a deleted workspace", err, workspace.CodeWorkspaceNotFound, 404)
}
