// Command sync moves a local project directory into a workspace with
// UploadDir, watches it while a sandbox edits it (a new file, an appended
// line), printing each change as it arrives, then brings the directory
// back with DownloadDir and compares it with the original.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/sync
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout, os.Stderr)
	})
}

// project is the local tree uploaded, by slash-separated path.
var project = map[string]string{
	"README.md":   "# demo\n",
	"src/main.go": "package main\n\nfunc main() {}\n",
}

// edits is what the sandbox does to the uploaded tree (in /workspace/project).
const edits = `cd project && rm .ready && echo 'package main' > src/util.go && echo 'Edited in a sandbox.' >> README.md`

func run(ctx context.Context, c *workspace.Client, stdout, stderr io.Writer) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "sync-example"})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID)) }()
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()

	// A local directory tree, uploaded in one go.
	tmp, err := os.MkdirTemp("", "sync-example-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	local, back := filepath.Join(tmp, "project"), filepath.Join(tmp, "downloaded")
	for name, content := range project {
		path := filepath.Join(local, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if err := c.Workspace.UploadDir(ctx, ws.ID, local, "project", nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Uploaded %d files to project/\n", len(project))

	// Watch the tree. The watch is in place shortly after it starts, so a
	// goroutine touches project/.ready until the watch reports it, and only
	// then has the sandbox make its edits.
	watchCtx, stopWatch := context.WithTimeout(ctx, 30*time.Second)
	defer stopWatch()
	ready, edited := make(chan struct{}), make(chan error, 1)
	go func() { edited <- editWhenReady(ctx, watchCtx, c, ws.ID, sbx.ID, ready) }()
	defer func() { stopWatch(); err = errors.Join(err, <-edited) }()

	fmt.Fprintln(stdout, "Changes seen by the watch:")
	var created, appended bool
	for event, err := range c.Workspace.Watch(watchCtx, ws.ID, "project", &workspace.WatchOptions{Recursive: true}) {
		if err != nil {
			return err
		}
		if event.Path == "project/.ready" && ready != nil {
			close(ready)
			ready = nil
		}
		if ready != nil || strings.HasPrefix(path.Base(event.Path), ".") {
			continue // the probe, and the file API's temporary names
		}
		fmt.Fprintf(stdout, "  %-6s %s\n", event.Type, event.Path)
		created = created || event.Type == workspace.FileEventCreate && event.Path == "project/src/util.go"
		appended = appended || event.Type == workspace.FileEventWrite && event.Path == "project/README.md"
		if created && appended {
			break
		}
	}

	// Bring the tree back and compare.
	if err := c.Workspace.DownloadDir(ctx, ws.ID, "project", back, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Downloaded project/ back:")
	return filepath.WalkDir(back, func(file string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		got, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(back, file)
		name = filepath.ToSlash(name)
		sent, ok := project[name]
		switch {
		case !ok:
			fmt.Fprintf(stdout, "  %-9s %s\n", "new", name)
		case !bytes.Equal(got, []byte(sent)):
			fmt.Fprintf(stdout, "  %-9s %s\n", "changed", name)
		default:
			fmt.Fprintf(stdout, "  %-9s %s\n", "unchanged", name)
		}
		return nil
	})
}

// editWhenReady writes project/.ready every 200ms until ready is closed,
// then runs edits in the sandbox. watchCtx bounds the wait, ctx the edits.
func editWhenReady(ctx, watchCtx context.Context, c *workspace.Client, wsID, sbxID string, ready <-chan struct{}) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := c.Workspace.WriteFile(watchCtx, wsID, "project/.ready", nil); err != nil {
			return err
		}
		select {
		case <-ready:
			_, err := c.Process.Exec(ctx, sbxID, "sh", "-c", edits)
			return err
		case <-watchCtx.Done():
			return fmt.Errorf("the watch never reported project/.ready: %w", watchCtx.Err())
		case <-tick.C:
		}
	}
}
