package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
)

// NamePrefix starts the name of every workspace and sandbox the checks
// create.
const NamePrefix = "conformance-"

// cleanupTimeout bounds the removal of what a run created.
const cleanupTimeout = 2 * time.Minute

// Env is what the checks share: the client, the server's health answer,
// and the resources created so far (removed by Close).
type Env struct {
	// C is the client under test.
	C *workspace.Client
	// Health is the server's GET /health answer.
	Health *workspace.HealthInfo

	opts Options
	run  string // random part of the names of this run

	mu         sync.Mutex
	ws         *workspace.Workspace // shared workspace
	sbx        *workspace.Sandbox   // shared sandbox in ws
	workspaces []string             // created, in order
	sandboxes  []string
	seq        int
}

// NewEnv asks the server for its health and returns an Env for the checks.
func NewEnv(ctx context.Context, c *workspace.Client, opts Options) (*Env, error) {
	h, err := c.Health(ctx)
	if err != nil {
		return nil, fmt.Errorf("GET /health: %w", err)
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &Env{C: c, Health: h, opts: opts, run: hex.EncodeToString(b[:])}, nil
}

// Name returns a new resource name: conformance-<run>-<n>.
func (e *Env) Name() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("%s%s-%d", NamePrefix, e.run, e.seq)
}

// Dir returns a fresh directory name for one use by a check in the
// shared workspace: c<n>-<what>.
func (e *Env) Dir(what string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	return fmt.Sprintf("c%d-%s", e.seq, what)
}

// NewWorkspace creates a workspace that Close removes.
func (e *Env) NewWorkspace(ctx context.Context, metadata map[string]string) (*workspace.Workspace, error) {
	ws, err := e.C.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: e.Name(), Metadata: metadata})
	if err != nil {
		return nil, fmt.Errorf("POST /workspaces: %w", err)
	}
	e.track(ws.ID)
	return ws, nil
}

// track makes Close remove workspace id.
func (e *Env) track(id string) {
	e.mu.Lock()
	e.workspaces = append(e.workspaces, id)
	e.mu.Unlock()
}

// NewSandbox creates a sandbox in workspace wsID (p may be nil) that
// Close removes.
func (e *Env) NewSandbox(ctx context.Context, wsID string, p *workspace.CreateSandboxParams) (*workspace.Sandbox, error) {
	var params workspace.CreateSandboxParams
	if p != nil {
		params = *p
	}
	params.WorkspaceID = wsID
	if params.Name == "" {
		params.Name = e.Name()
	}
	sb, err := e.C.Sandbox.Create(ctx, &params)
	if sb != nil && sb.ID != "" {
		e.mu.Lock()
		e.sandboxes = append(e.sandboxes, sb.ID)
		e.mu.Unlock()
	}
	if err != nil {
		return nil, fmt.Errorf("POST /sandboxes: %w", err)
	}
	return sb, nil
}

// NewRunningSandbox is NewSandbox, then waits until the sandbox runs and
// returns it as it is then.
func (e *Env) NewRunningSandbox(ctx context.Context, wsID string, p *workspace.CreateSandboxParams) (*workspace.Sandbox, error) {
	sb, err := e.NewSandbox(ctx, wsID, p)
	if err != nil {
		return nil, err
	}
	if sb, err = e.C.Sandbox.WaitForState(ctx, sb.ID, workspace.StateRunning); err != nil {
		return nil, failed("GET /sandboxes/{id}: wait for running", err)
	}
	return sb, nil
}

// Workspace returns the shared workspace of the run, creating it once.
func (e *Env) Workspace(ctx context.Context) (*workspace.Workspace, error) {
	return shared(&e.mu, &e.ws, func() (*workspace.Workspace, error) {
		return e.NewWorkspace(ctx, nil)
	})
}

// Sandbox returns the shared running sandbox (in the shared workspace),
// creating it once.
func (e *Env) Sandbox(ctx context.Context) (*workspace.Sandbox, error) {
	return shared(&e.mu, &e.sbx, func() (*workspace.Sandbox, error) {
		ws, err := e.Workspace(ctx)
		if err != nil {
			return nil, err
		}
		return e.NewRunningSandbox(ctx, ws.ID, &workspace.CreateSandboxParams{Env: map[string]string{"CONFORMANCE_SANDBOX_VAR": "from-sandbox"}})
	})
}

// shared returns *slot (read under mu), first setting it to what create
// returns when it is nil. create runs without mu held.
func shared[T any](mu *sync.Mutex, slot **T, create func() (*T, error)) (*T, error) {
	mu.Lock()
	v := *slot
	mu.Unlock()
	if v != nil {
		return v, nil
	}
	v, err := create()
	if err != nil {
		return nil, err
	}
	mu.Lock()
	*slot = v
	mu.Unlock()
	return v, nil
}

// Close removes every sandbox (force) and workspace the checks created,
// sandboxes first. Resources already removed by a check are fine.
func (e *Env) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	e.mu.Lock()
	sbs, wss := e.sandboxes, e.workspaces
	e.sandboxes, e.workspaces, e.ws, e.sbx = nil, nil, nil, nil
	e.mu.Unlock()
	var errs []error
	for _, id := range sbs {
		if err := e.C.Sandbox.Delete(ctx, id, &workspace.DeleteSandboxOptions{Force: true}); err != nil && !errors.Is(err, workspace.ErrNotFound) {
			errs = append(errs, fmt.Errorf("clean up sandbox %s: %w", id, err))
		}
	}
	for _, id := range wss {
		if err := e.deleteWorkspace(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("clean up workspace %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// deleteWorkspace deletes workspace id, retrying while its sandboxes are
// still stopping (409/7002).
func (e *Env) deleteWorkspace(ctx context.Context, id string) error {
	for {
		err := e.C.Workspace.Delete(ctx, id)
		if err == nil || errors.Is(err, workspace.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, workspace.ErrWorkspaceHasActiveSandboxes) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
