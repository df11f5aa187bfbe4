package conformance

import (
	"context"
	"fmt"
	"slices"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// checkSandboxCRUD: create (running, template "default", env/metadata
// echoed), get, list (all and state=running), exists, force delete, then
// 404/2001.
func checkSandboxCRUD(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	const croute = "POST /sandboxes"
	sb, err := e.NewSandbox(ctx, ws.ID, &workspace.CreateSandboxParams{
		Env:      map[string]string{"A": "1"},
		Metadata: map[string]string{"m": "n"},
		Timeout:  time.Hour,
	})
	if err != nil {
		return err
	}
	if sb.WorkspaceID != ws.ID || sb.Template != "default" || sb.Env["A"] != "1" || sb.Metadata["m"] != "n" {
		return mismatch(croute, "workspace_id/template/env/metadata", fmt.Sprint(sb.WorkspaceID, " ", sb.Template, " ", sb.Env, " ", sb.Metadata), fmt.Sprint(ws.ID, " default map[A:1] map[m:n]"))
	}
	if sb, err = e.C.Sandbox.WaitForState(ctx, sb.ID, workspace.StateRunning); err != nil {
		return failed("GET /sandboxes/{id}: wait for running", err)
	}
	got, err := e.C.Sandbox.Get(ctx, sb.ID)
	if err != nil {
		return failed("GET /sandboxes/{id}", err)
	}
	if got.ID != sb.ID || got.State != workspace.StateRunning {
		return mismatch("GET /sandboxes/{id}", "id/state", got.ID+"/"+string(got.State), sb.ID+"/running")
	}
	for _, st := range []*workspace.ListSandboxesOptions{nil, {State: workspace.StateRunning}} {
		list, err := e.C.Sandbox.List(ctx, st)
		if err != nil {
			return failed("GET /sandboxes", err)
		}
		if !slices.ContainsFunc(list, func(s *workspace.Sandbox) bool { return s.ID == sb.ID }) {
			return fmt.Errorf("GET /sandboxes (filter %v): the running sandbox %s is not listed", st, sb.ID)
		}
	}
	list, err := e.C.Sandbox.List(ctx, &workspace.ListSandboxesOptions{State: workspace.StateStopped})
	if err != nil {
		return failed("GET /sandboxes?state=stopped", err)
	}
	if slices.ContainsFunc(list, func(s *workspace.Sandbox) bool { return s.ID == sb.ID }) {
		return fmt.Errorf("GET /sandboxes?state=stopped lists the running sandbox %s", sb.ID)
	}
	if ok, err := e.C.Sandbox.Exists(ctx, sb.ID); err != nil || !ok {
		return mismatch("GET /sandboxes/{id}", "exists", fmt.Sprint(ok, " ", err), "true <nil>")
	}
	if err := e.C.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
		return failed("DELETE /sandboxes/{id}?force=true", err)
	}
	_, err = e.C.Sandbox.Get(ctx, sb.ID)
	if err := wantAPIError("GET /sandboxes/{id} after delete", err, workspace.CodeSandboxNotFound, 404); err != nil {
		return err
	}
	_, err = e.C.Process.Run(ctx, sb.ID, "true", nil)
	return wantAPIError("POST /sandboxes/{id}/process/run of a deleted sandbox", err, workspace.CodeSandboxNotFound, 404)
}

// checkSandboxLifecycle (Part 2): unknown template 404/2003; the sandbox
// timeout stops it and process calls are then 400/2004.
func checkSandboxLifecycle(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	var err error
	_, err = e.NewSandbox(ctx, ws.ID, &workspace.CreateSandboxParams{Template: e.Name() + "-no-such-template"})
	if err := wantAPIError("POST /sandboxes with an unknown template", err, workspace.CodeTemplateNotFound, 404); err != nil {
		return err
	}
	sb, err := e.NewSandbox(ctx, ws.ID, &workspace.CreateSandboxParams{Timeout: 2 * time.Second})
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.C.Sandbox.WaitForState(wctx, sb.ID, workspace.StateStopped); err != nil {
		return fmt.Errorf("GET /sandboxes/{id}: a sandbox with timeout 2 s did not become stopped: %w", err)
	}
	_, err = e.C.Process.Run(ctx, sb.ID, "true", nil)
	if err := wantAPIError("POST /sandboxes/{id}/process/run on a stopped sandbox", err, workspace.CodeInvalidSandboxState, 400); err != nil {
		return err
	}
	return nil
}

// checkDeleteWithoutForce: a delete without force of a running sandbox
// stops and removes it (Part 2) or, on a server with the base protocol
// only, may be refused 400/2004 as upstream does (then a force delete
// removes it).
func checkDeleteWithoutForce(ctx context.Context, e *Env, ws *workspace.Workspace) error {
	sb, err := e.NewRunningSandbox(ctx, ws.ID, nil)
	if err != nil {
		return err
	}
	const route = "DELETE /sandboxes/{id} without force of a running sandbox"
	err = e.C.Sandbox.Delete(ctx, sb.ID, nil)
	if err != nil && len(e.Health.Features) > 0 {
		return fmt.Errorf("%s: want a graceful stop and removal (PROTOCOL.md Part 2), got %w", route, err)
	}
	if err != nil {
		if err := wantAPIError(route+" (upstream refuses)", err, workspace.CodeInvalidSandboxState, 400); err != nil {
			return err
		}
		if err := e.C.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
			return failed("DELETE /sandboxes/{id}?force=true", err)
		}
	}
	_, err = e.C.Sandbox.Get(ctx, sb.ID)
	return wantAPIError("GET /sandboxes/{id} after delete", err, workspace.CodeSandboxNotFound, 404)
}

// checkWorkspaceBusy: a workspace with a running sandbox cannot be
// deleted (409/7002); once the sandbox is gone it can.
func checkWorkspaceBusy(ctx context.Context, e *Env) error {
	ws, err := e.NewWorkspace(ctx, nil)
	if err != nil {
		return err
	}
	sb, err := e.NewRunningSandbox(ctx, ws.ID, nil)
	if err != nil {
		return err
	}
	err = e.C.Workspace.Delete(ctx, ws.ID)
	if err := wantAPIError("DELETE /workspaces/{id} with a running sandbox", err, workspace.CodeWorkspaceHasActiveSandboxes, 409); err != nil {
		return err
	}
	if err := e.C.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
		return failed("DELETE /sandboxes/{id}?force=true", err)
	}
	if err := e.deleteWorkspace(ctx, ws.ID); err != nil {
		return failed("DELETE /workspaces/{id} after its sandbox was deleted", err)
	}
	return nil
}
