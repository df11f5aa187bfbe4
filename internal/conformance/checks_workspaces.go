package conformance

import (
	"context"
	"fmt"
	"slices"

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
	ws, err := e.NewWorkspace(ctx, meta)
	if err != nil {
		return err
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
	_, err = e.C.Workspace.ListFiles(ctx, ws.ID, "")
	return wantAPIError("GET /workspaces/{id}/files/list of a deleted workspace", err, workspace.CodeWorkspaceNotFound, 404)
}
