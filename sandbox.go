package workspace

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SandboxService manages sandboxes. Get it from Client.Sandbox.
type SandboxService struct{ c *Client }

func sandboxPath(id string, rest string) string {
	return "/sandboxes/" + url.PathEscape(id) + rest
}

// Create creates a sandbox bound to params.WorkspaceID and returns it (on
// upstream servers, once it runs). It fails with ErrWorkspaceNotFound,
// ErrTemplateNotFound or ErrSandboxLimitExceeded; a sandbox that failed to
// start is an error (5xx) too.
func (s *SandboxService) Create(ctx context.Context, params *CreateSandboxParams) (*Sandbox, error) {
	body := struct {
		WorkspaceID string            `json:"workspace_id"`
		Template    string            `json:"template,omitempty"`
		Name        string            `json:"name,omitempty"`
		Env         map[string]string `json:"env,omitempty"`
		Metadata    map[string]string `json:"metadata,omitempty"`
		Timeout     int64             `json:"timeout,omitempty"`
		Resources   *wireResources    `json:"resources,omitempty"`
	}{}
	if params != nil {
		body.WorkspaceID = params.WorkspaceID
		body.Template = params.Template
		body.Name = params.Name
		body.Env = params.Env
		body.Metadata = params.Metadata
		body.Timeout = ceilUnit(params.Timeout, time.Second)
		body.Resources = resourcesToWire(params.Resources)
	}
	var sb wireSandbox
	if err := s.c.callJSON(ctx, &apiRequest{op: "create sandbox", method: http.MethodPost, path: "/sandboxes", body: body}, &sb); err != nil {
		return nil, err
	}
	return sb.toSandbox(), nil
}

// Get returns the sandbox with the given id, or an error matching
// ErrSandboxNotFound.
func (s *SandboxService) Get(ctx context.Context, id string) (*Sandbox, error) {
	var sb wireSandbox
	if err := s.c.callJSON(ctx, &apiRequest{op: "get sandbox", method: http.MethodGet, path: sandboxPath(id, "")}, &sb); err != nil {
		return nil, err
	}
	return sb.toSandbox(), nil
}

// List returns the sandboxes, only those in opts.State when it is set. opts
// may be nil.
func (s *SandboxService) List(ctx context.Context, opts *ListSandboxesOptions) ([]*Sandbox, error) {
	var q url.Values
	if opts != nil && opts.State != "" {
		q = url.Values{"state": {string(opts.State)}}
	}
	var out struct {
		Sandboxes []wireSandbox `json:"sandboxes"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: "list sandboxes", method: http.MethodGet, path: "/sandboxes", query: q}, &out); err != nil {
		return nil, err
	}
	list := make([]*Sandbox, len(out.Sandboxes))
	for i := range out.Sandboxes {
		list[i] = out.Sandboxes[i].toSandbox()
	}
	return list, nil
}

// Exists reports whether the sandbox exists. It returns false only for
// ErrSandboxNotFound; other errors are returned.
func (s *SandboxService) Exists(ctx context.Context, id string) (bool, error) {
	_, err := s.Get(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrSandboxNotFound):
		return false, nil
	}
	return false, err
}

// Delete deletes the sandbox, killing its processes. opts may be nil;
// without Force the sandbox is stopped gracefully (upstream servers refuse
// to delete a running sandbox without Force: ErrInvalidSandboxState).
func (s *SandboxService) Delete(ctx context.Context, id string, opts *DeleteSandboxOptions) error {
	var q url.Values
	if opts != nil && opts.Force {
		q = url.Values{"force": {"true"}}
	}
	return s.c.callJSON(ctx, &apiRequest{op: "delete sandbox", method: http.MethodDelete, path: sandboxPath(id, ""), query: q}, nil)
}

// Polling intervals of WaitForState.
const (
	waitMinInterval = 50 * time.Millisecond
	waitMaxInterval = time.Second
)

// WaitForState polls the sandbox, with backoff from 50 ms up to 1 s, until
// it reaches state, and returns it. It fails at once, with an error matching
// ErrInvalidSandboxState that carries the sandbox's ErrorMessage, when the
// sandbox enters StateError (unless that is the state waited for) or
// stops while a running state is waited for; it fails with the ctx's error
// when ctx ends, and with any error of SandboxService.Get.
func (s *SandboxService) WaitForState(ctx context.Context, id string, state SandboxState) (*Sandbox, error) {
	interval := waitMinInterval
	var t *time.Timer
	for {
		sb, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if sb.State == state {
			return sb, nil
		}
		if sb.State == StateError {
			msg := sb.ErrorMessage
			if msg == "" {
				msg = "no error message"
			}
			return nil, fmt.Errorf("workspace: wait for sandbox %s to be %s: sandbox failed: %s: %w", id, state, msg, ErrInvalidSandboxState)
		}
		if sb.State == StateStopped && (state == StateRunning || state == StateStarting) {
			return nil, fmt.Errorf("workspace: wait for sandbox %s to be %s: sandbox is stopped: %w", id, state, ErrInvalidSandboxState)
		}
		if t == nil {
			t = time.NewTimer(interval)
			defer t.Stop()
		} else {
			t.Reset(interval)
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("workspace: wait for sandbox %s to be %s (last state %s): %w", id, state, sb.State, ctx.Err())
		}
		interval = min(interval*2, waitMaxInterval)
	}
}
