package workspace

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sbJSON(state string) string {
	return fmt.Sprintf(`{"id":"sbx-1","workspace_id":"ws-1","name":null,"template":"default","state":%q,"env":{"A":"1"},"metadata":{},"created_at":"2024-05-06T07:08:09Z","updated_at":"2024-05-06T07:08:09.5Z","timeout":3600,"error_message":null}`, state)
}

func TestSandboxMethods(t *testing.T) {
	runMethodCases(t, []methodCase{
		{name: "Create", reply: sbJSON("running"), method: "POST", path: "/sandboxes",
			body: `{"workspace_id":"ws-1","template":"t:1","name":"n","env":{"A":"1"},"metadata":{"m":"v"},"timeout":2}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Sandbox.Create(ctx, &CreateSandboxParams{WorkspaceID: "ws-1", Template: "t:1", Name: "n",
					Env: map[string]string{"A": "1"}, Metadata: map[string]string{"m": "v"}, Timeout: 1500 * time.Millisecond})
			},
			check: func(t *testing.T, got any) {
				sb := got.(*Sandbox)
				assert.Equal(t, Sandbox{ID: "sbx-1", WorkspaceID: "ws-1", Template: "default", State: StateRunning,
					Env: map[string]string{"A": "1"}, Metadata: map[string]string{}, CreatedAt: sb.CreatedAt, UpdatedAt: sb.UpdatedAt,
					Timeout: time.Hour}, *sb)
				assert.True(t, sb.UpdatedAt.Equal(time.Date(2024, 5, 6, 7, 8, 9, 5e8, time.UTC)))
			}},
		{name: "Create resources", reply: `{"id":"sbx-1","state":"running","resources":{"cpus":0.5,"memory_mb":256,"pids":64,"disk_mb":100}}`,
			method: "POST", path: "/sandboxes",
			body: `{"workspace_id":"ws-1","resources":{"cpus":0.5,"memory_mb":512}}`,
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Sandbox.Create(ctx, &CreateSandboxParams{WorkspaceID: "ws-1", Resources: &Resources{CPUs: 0.5, MemoryMB: 512}})
			},
			check: func(t *testing.T, got any) {
				assert.Equal(t, &Resources{CPUs: 0.5, MemoryMB: 256, PIDs: 64, DiskMB: 100}, got.(*Sandbox).Resources)
			}},
		{name: "Create nil", reply: sbJSON("running"), method: "POST", path: "/sandboxes", body: `{"workspace_id":""}`,
			call: func(ctx context.Context, c *Client) (any, error) { return c.Sandbox.Create(ctx, nil) }},
		{name: "Get", reply: sbJSON("starting"), method: "GET", path: "/sandboxes/sbx-1",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Sandbox.Get(ctx, "sbx-1") },
			check: func(t *testing.T, got any) { assert.Equal(t, StateStarting, got.(*Sandbox).State) }},
		{name: "List all", reply: `{"sandboxes":[` + sbJSON("running") + `],"total":1}`, method: "GET", path: "/sandboxes",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Sandbox.List(ctx, nil) },
			check: func(t *testing.T, got any) { assert.Len(t, got.([]*Sandbox), 1) }},
		{name: "List state", reply: `{"sandboxes":[],"total":0}`, method: "GET", path: "/sandboxes", query: "state=running",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Sandbox.List(ctx, &ListSandboxesOptions{State: StateRunning})
			},
			check: func(t *testing.T, got any) { assert.Empty(t, got.([]*Sandbox)) }},
		{name: "Exists", reply: sbJSON("running"), method: "GET", path: "/sandboxes/sbx-1",
			call:  func(ctx context.Context, c *Client) (any, error) { return c.Sandbox.Exists(ctx, "sbx-1") },
			check: func(t *testing.T, got any) { assert.Equal(t, true, got) }},
		{name: "Delete", reply: `{"success":true}`, method: "DELETE", path: "/sandboxes/sbx-1", noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) { return nil, c.Sandbox.Delete(ctx, "sbx-1", nil) }},
		{name: "Delete force", reply: `{"success":true}`, method: "DELETE", path: "/sandboxes/sbx-1", query: "force=true", noDecode: true,
			call: func(ctx context.Context, c *Client) (any, error) {
				return nil, c.Sandbox.Delete(ctx, "sbx-1", &DeleteSandboxOptions{Force: true})
			}},
		{name: "WaitForState", reply: sbJSON("running"), method: "GET", path: "/sandboxes/sbx-1",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Sandbox.WaitForState(ctx, "sbx-1", StateRunning)
			}},
	})
}

func TestSandboxExistsNotFound(t *testing.T) {
	f := newFake(t, nil)
	f.script(reply{status: 404, body: `{"code":2001,"message":"Sandbox not found: sbx-1"}`})
	ok, err := f.c.Sandbox.Exists(t.Context(), "sbx-1")
	require.NoError(t, err)
	assert.False(t, ok)
	f.script(reply{status: 500, body: `{"code":6001,"message":"db"}`})
	_, err = f.c.Sandbox.Exists(t.Context(), "sbx-1")
	require.ErrorIs(t, err, ErrDatabaseError)
}

func TestSandboxWaitForStatePolls(t *testing.T) {
	f := newFake(t, nil)
	f.ok(sbJSON("starting"), sbJSON("starting"), sbJSON("running"))
	sb, err := f.c.Sandbox.WaitForState(t.Context(), "sbx-1", StateRunning)
	require.NoError(t, err)
	assert.Equal(t, StateRunning, sb.State)
	assert.Len(t, f.requests(), 3)
}

func TestSandboxWaitForStateFailsOnError(t *testing.T) {
	f := newFake(t, nil)
	f.ok(sbJSON("starting"), `{"id":"sbx-1","state":"error","error_message":"image pull failed"}`)
	_, err := f.c.Sandbox.WaitForState(t.Context(), "sbx-1", StateRunning)
	require.ErrorIs(t, err, ErrInvalidSandboxState)
	assert.Contains(t, err.Error(), "image pull failed")
	assert.Len(t, f.requests(), 2)

	f.ok(sbJSON("stopped"))
	_, err = f.c.Sandbox.WaitForState(t.Context(), "sbx-1", StateRunning)
	require.ErrorIs(t, err, ErrInvalidSandboxState)
}

func TestSandboxWaitForStateEndsWithCtx(t *testing.T) {
	f := newFake(t, nil)
	for range 100 {
		f.ok(sbJSON("starting"))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Millisecond)
	defer cancel()
	_, err := f.c.Sandbox.WaitForState(ctx, "sbx-1", StateRunning)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}
