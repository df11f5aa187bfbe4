package workspace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"

	sse "github.com/tmaxmax/go-sse"
)

// FileEventType is the kind of a FileEvent.
type FileEventType string

// The kinds of change WorkspaceService.Watch reports.
const (
	// FileEventCreate: a file or directory appeared.
	FileEventCreate FileEventType = "create"
	// FileEventWrite: a file's content changed.
	FileEventWrite FileEventType = "write"
	// FileEventRemove: a file or directory was removed.
	FileEventRemove FileEventType = "remove"
	// FileEventRename: a file or directory was renamed away from Path (a
	// create follows for the new name when it is watched).
	FileEventRename FileEventType = "rename"
	// FileEventChmod: attributes changed.
	FileEventChmod FileEventType = "chmod"
	// FileEventOverflow: events were lost (the client was too slow or the
	// kernel queue overflowed); rescan what matters. Path is empty.
	FileEventOverflow FileEventType = "overflow"
)

// FileEvent is one change reported by WorkspaceService.Watch.
type FileEvent struct {
	// Type is the kind of change.
	Type FileEventType
	// Path is workspace-relative, with forward slashes ("" for the root).
	Path string
	// IsDir reports whether Path is (or was) a directory.
	IsDir bool
}

// WatchOptions configures WorkspaceService.Watch; nil means defaults.
type WatchOptions struct {
	// Recursive watches every directory under the path too, including
	// directories created later. Default false: the path itself and, for a
	// directory, its direct entries.
	Recursive bool
}

// Watch yields the changes under path ("" is the workspace root) in the
// workspace as they happen, whoever makes them: sandboxes, the file API or
// NFS clients. It needs the files.watch feature (ErrUnsupported
// otherwise). The watch is in place shortly after iteration starts; events
// are not replayed. The contract:
//   - at most one of the event and the error is non-nil; iteration stops
//     after an error;
//   - a slow consumer loses events rather than growing the server's
//     memory: a FileEventOverflow event says so;
//   - breaking out of the loop or cancelling ctx ends the watch (the last
//     value is then an error wrapping ctx.Err());
//   - when the workspace is deleted the watch ends with an error matching
//     ErrWorkspaceNotFound; other ends of the stream wrap
//     ErrStreamInterrupted.
//
// Errors before the stream starts: ErrWorkspaceNotFound, ErrFileNotFound
// (path missing), ErrPathNotAllowed.
func (s *WorkspaceService) Watch(ctx context.Context, workspaceID, path string, opts *WatchOptions) iter.Seq2[FileEvent, error] {
	return func(yield func(FileEvent, error) bool) {
		const op = "watch"
		if err := s.c.requireFeature(ctx, op, FeatureFilesWatch); err != nil {
			yield(FileEvent{}, err)
			return
		}
		q := url.Values{"path": {path}}
		if opts != nil && opts.Recursive {
			q.Set("recursive", "true")
		}
		resp, err := s.c.open(ctx, &apiRequest{
			op: op, method: http.MethodGet, path: workspacePath(workspaceID, "/files/watch"), query: q,
			accept: "text/event-stream", header: http.Header{"Cache-Control": {"no-cache"}}, scope: untilHeaders,
		})
		if err != nil {
			yield(FileEvent{}, err)
			return
		}
		defer resp.Body.Close()
		var readErr error
		for sev, err := range sse.Read(resp.Body, &sse.ReadConfig{MaxEventSize: maxStreamEvent}) {
			if err != nil {
				readErr = err
				break
			}
			var w struct {
				Type  string `json:"type"`
				Path  string `json:"path"`
				IsDir bool   `json:"is_dir"`
			}
			if err := json.Unmarshal([]byte(sev.Data), &w); err != nil {
				yield(FileEvent{}, fmt.Errorf("workspace: %s: decode event: %w", op, err))
				return
			}
			if !yield(FileEvent{Type: FileEventType(w.Type), Path: w.Path, IsDir: w.IsDir}, nil) {
				return
			}
		}
		if err := ctx.Err(); err != nil {
			yield(FileEvent{}, fmt.Errorf("workspace: %s: %w", op, err))
			return
		}
		// The server ends a watch when the workspace goes away: say so.
		if _, err := s.Get(ctx, workspaceID); errors.Is(err, ErrWorkspaceNotFound) {
			yield(FileEvent{}, err)
			return
		}
		if readErr == nil {
			readErr = errors.New("the server ended the stream")
		}
		yield(FileEvent{}, fmt.Errorf("workspace: %s: %w: %w", op, ErrStreamInterrupted, readErr))
	}
}
