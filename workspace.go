package workspace

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"
)

// WorkspaceService manages workspaces and the files in them. Get it from
// Client.Workspace. Errors are *Error values; the doc of each method names
// the sentinels it typically matches.
type WorkspaceService struct{ c *Client }

func workspacePath(id string, rest string) string {
	return "/workspaces/" + url.PathEscape(id) + rest
}

// Create creates a workspace. params may be nil. Errors: ErrInvalidParameter
// (a name or metadata over the server's limits), ErrRequestTooLarge, and
// other *Error values; transport and ctx errors are wrapped.
func (s *WorkspaceService) Create(ctx context.Context, params *CreateWorkspaceParams) (*Workspace, error) {
	body := struct {
		Name     string            `json:"name,omitempty"`
		Metadata map[string]string `json:"metadata,omitempty"`
	}{}
	if params != nil {
		body.Name, body.Metadata = params.Name, params.Metadata
	}
	var w wireWorkspace
	if err := s.c.callJSON(ctx, &apiRequest{op: "create workspace", method: http.MethodPost, path: "/workspaces", body: body}, &w); err != nil {
		return nil, err
	}
	return w.toWorkspace(), nil
}

// Get returns the workspace with the given id, or an error matching
// ErrWorkspaceNotFound.
func (s *WorkspaceService) Get(ctx context.Context, id string) (*Workspace, error) {
	var w wireWorkspace
	if err := s.c.callJSON(ctx, &apiRequest{op: "get workspace", method: http.MethodGet, path: workspacePath(id, "")}, &w); err != nil {
		return nil, err
	}
	return w.toWorkspace(), nil
}

// List returns every workspace. Errors: *Error values (such as
// ErrUnauthorized); transport and ctx errors are wrapped.
func (s *WorkspaceService) List(ctx context.Context) ([]*Workspace, error) {
	var out struct {
		Workspaces []wireWorkspace `json:"workspaces"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: "list workspaces", method: http.MethodGet, path: "/workspaces"}, &out); err != nil {
		return nil, err
	}
	ws := make([]*Workspace, len(out.Workspaces))
	for i := range out.Workspaces {
		ws[i] = out.Workspaces[i].toWorkspace()
	}
	return ws, nil
}

// Delete deletes the workspace and its files. It fails with
// ErrWorkspaceHasActiveSandboxes while sandboxes use it, and with
// ErrWorkspaceNotFound when there is no such workspace.
func (s *WorkspaceService) Delete(ctx context.Context, id string) error {
	return s.c.callJSON(ctx, &apiRequest{op: "delete workspace", method: http.MethodDelete, path: workspacePath(id, "")}, nil)
}

// WriteFile writes data to path in the workspace, creating parent
// directories and replacing any existing file. It is binary-safe against
// servers with the "binary" feature; against others (upstream), data that is
// not valid UTF-8 fails with an error matching ErrUnsupported before
// anything is sent.
func (s *WorkspaceService) WriteFile(ctx context.Context, id, path string, data []byte) error {
	const op = "write file"
	if ok, err := s.c.hasFeature(ctx, FeatureFilesRaw); err != nil {
		return err
	} else if ok {
		return s.writeFileRaw(ctx, id, path, data)
	}
	binary, err := s.c.hasFeature(ctx, FeatureBinary)
	if err != nil {
		return err
	}
	body := struct {
		Content  string `json:"content"`
		Encoding string `json:"encoding,omitempty"`
	}{}
	if binary {
		body.Content, body.Encoding = base64.StdEncoding.EncodeToString(data), "base64"
	} else {
		if !utf8.Valid(data) {
			return fmt.Errorf("workspace: %s: data is not valid UTF-8 and the server lacks the binary feature: %w", op, ErrUnsupported)
		}
		body.Content = string(data)
	}
	return s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodPut, path: workspacePath(id, "/files"), query: url.Values{"path": {path}}, body: body}, nil)
}

// ReadFile returns the content of the file at path in the workspace. It is
// binary-safe against servers with the "binary" feature; upstream servers
// only serve UTF-8 text. Missing files match ErrFileNotFound, directories
// ErrNotADirectory.
func (s *WorkspaceService) ReadFile(ctx context.Context, id, path string) ([]byte, error) {
	const op = "read file"
	if ok, err := s.c.hasFeature(ctx, FeatureFilesRaw); err != nil {
		return nil, err
	} else if ok {
		return s.readFileRaw(ctx, id, path)
	}
	binary, err := s.c.hasFeature(ctx, FeatureBinary)
	if err != nil {
		return nil, err
	}
	q := url.Values{"path": {path}}
	if binary {
		q.Set("encoding", "base64")
	}
	var out struct {
		Content  string `json:"content"`
		Encoding string `json:"encoding"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: op, method: http.MethodGet, path: workspacePath(id, "/files"), query: q}, &out); err != nil {
		return nil, err
	}
	if out.Encoding == "base64" {
		b, err := base64.StdEncoding.DecodeString(out.Content)
		if err != nil {
			return nil, fmt.Errorf("workspace: %s: decode base64 content: %w", op, err)
		}
		return b, nil
	}
	return []byte(out.Content), nil
}

// ListFiles lists the directory at path ("" or "." is the workspace root),
// one level deep, sorted by name. Errors: ErrWorkspaceNotFound,
// ErrFileNotFound (no such directory), ErrNotADirectory, ErrPathNotAllowed
// (a path that leaves the workspace), and other *Error values.
func (s *WorkspaceService) ListFiles(ctx context.Context, id, path string) ([]*FileInfo, error) {
	var out struct {
		Files []wireFileInfo `json:"files"`
	}
	if err := s.c.callJSON(ctx, &apiRequest{op: "list files", method: http.MethodGet, path: workspacePath(id, "/files/list"), query: url.Values{"path": {path}}}, &out); err != nil {
		return nil, err
	}
	fs := make([]*FileInfo, len(out.Files))
	for i := range out.Files {
		fs[i] = out.Files[i].toFileInfo()
	}
	return fs, nil
}

// Mkdir creates the directory at path and any missing parents, like
// mkdir -p; an existing directory is not an error. Errors:
// ErrWorkspaceNotFound, ErrFileAlreadyExists or ErrNotADirectory (a file is
// in the way), ErrPathNotAllowed, and other *Error values.
func (s *WorkspaceService) Mkdir(ctx context.Context, id, path string) error {
	body := struct {
		Path string `json:"path"`
	}{path}
	return s.c.callJSON(ctx, &apiRequest{op: "mkdir", method: http.MethodPost, path: workspacePath(id, "/files/mkdir"), body: body}, nil)
}

type srcDst struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// CopyFile copies src to dst; directories are copied recursively. An
// existing file at dst is replaced without warning (check with Exists
// first to avoid it). Errors: ErrWorkspaceNotFound, ErrFileNotFound (no
// src), ErrPathNotAllowed, and other *Error values.
func (s *WorkspaceService) CopyFile(ctx context.Context, id, src, dst string) error {
	return s.c.callJSON(ctx, &apiRequest{op: "copy file", method: http.MethodPost, path: workspacePath(id, "/files/copy"), body: srcDst{src, dst}}, nil)
}

// MoveFile moves (renames) src to dst. An existing file at dst is replaced
// without warning, as with os.Rename (check with Exists first to avoid it).
// Errors: ErrWorkspaceNotFound, ErrFileNotFound (no src),
// ErrPathNotAllowed, and other *Error values.
func (s *WorkspaceService) MoveFile(ctx context.Context, id, src, dst string) error {
	return s.c.callJSON(ctx, &apiRequest{op: "move file", method: http.MethodPost, path: workspacePath(id, "/files/move"), body: srcDst{src, dst}}, nil)
}

// DeleteFile deletes the file or directory at path. opts may be nil; a
// non-empty directory needs Recursive (else ErrDirectoryNotEmpty).
func (s *WorkspaceService) DeleteFile(ctx context.Context, id, path string, opts *DeleteFileOptions) error {
	q := url.Values{"path": {path}}
	if opts != nil && opts.Recursive {
		q.Set("recursive", "true")
	}
	return s.c.callJSON(ctx, &apiRequest{op: "delete file", method: http.MethodDelete, path: workspacePath(id, "/files"), query: q}, nil)
}

// GetFileInfo describes the file at path, or fails with ErrFileNotFound.
func (s *WorkspaceService) GetFileInfo(ctx context.Context, id, path string) (*FileInfo, error) {
	var fi wireFileInfo
	if err := s.c.callJSON(ctx, &apiRequest{op: "get file info", method: http.MethodGet, path: workspacePath(id, "/files/info"), query: url.Values{"path": {path}}}, &fi); err != nil {
		return nil, err
	}
	return fi.toFileInfo(), nil
}

// Exists reports whether path exists in the workspace. It returns false
// only when the server says the file is not found (ErrFileNotFound); every
// other error, including ErrWorkspaceNotFound, is returned.
func (s *WorkspaceService) Exists(ctx context.Context, id, path string) (bool, error) {
	_, err := s.GetFileInfo(ctx, id, path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrFileNotFound):
		return false, nil
	}
	return false, err
}
