//go:build linux

package integration

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/server"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// watchStream runs a Watch in a goroutine and hands its values over an
// unbuffered channel, so that a test that stops reading stops the stream.
type watchStream struct {
	events chan workspace.FileEvent
	end    chan error // the error that ended the watch
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startWatch(t testing.TB, ctx context.Context, c *workspace.Client, wsID, path string, recursive bool) *watchStream {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	w := &watchStream{events: make(chan workspace.FileEvent), end: make(chan error, 1), cancel: cancel}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for ev, err := range c.Workspace.Watch(ctx, wsID, path, &workspace.WatchOptions{Recursive: recursive}) {
			if err != nil {
				w.end <- err
				return
			}
			select {
			case w.events <- ev:
			case <-ctx.Done():
				w.end <- ctx.Err()
				return
			}
		}
		w.end <- nil
	}()
	t.Cleanup(w.stop)
	return w
}

func (w *watchStream) stop() {
	w.cancel()
	w.wg.Wait()
}

// waitEvent reads events until match holds, failing after 20 s or when
// the watch ends.
func (w *watchStream) waitEvent(t testing.TB, what string, match func(workspace.FileEvent) bool) workspace.FileEvent {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev := <-w.events:
			if match(ev) {
				return ev
			}
		case err := <-w.end:
			t.Fatalf("watch ended while waiting for %s: %v", what, err)
		case <-deadline.C:
			t.Fatalf("no event for %s", what)
		}
	}
}

// ready writes probe files through the file API until the watch reports
// one (or an overflow, which only a live watch sends), so that the watch
// is known to be in place.
func (w *watchStream) ready(t testing.TB, c *workspace.Client, wsID, dir string) {
	t.Helper()
	ctx := context.Background()
	for i := range 100 {
		name := fmt.Sprintf("%sprobe-%d", dir, i)
		require.NoError(t, c.Workspace.WriteFile(ctx, wsID, name, []byte("probe")))
		wait := time.NewTimer(200 * time.Millisecond) // then probe again: the watch may not be in place yet
	drain:
		for {
			select {
			case ev := <-w.events:
				if strings.Contains(ev.Path, "probe-") || ev.Type == workspace.FileEventOverflow {
					wait.Stop()
					return
				}
			case err := <-w.end:
				t.Fatalf("watch ended before it was ready: %v", err)
			case <-wait.C:
				break drain
			}
		}
	}
	t.Fatal("the watch never reported a probe")
}

func isEvent(typ workspace.FileEventType, path string) func(workspace.FileEvent) bool {
	return func(ev workspace.FileEvent) bool { return ev.Type == typ && ev.Path == path }
}

func TestWatchSeesSandboxFileAPIAndNFS(t *testing.T) {
	c, ws, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	w := startWatch(t, ctxFor(t), c, ws.ID, "", true)
	w.ready(t, c, ws.ID, "")

	// A sandbox writes in a directory it creates: recursive watches follow.
	res, err := c.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", "mkdir -p sub/deep && echo x > sub/deep/from-sandbox"}})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	ev := w.waitEvent(t, "the sandbox's directory", isEvent(workspace.FileEventCreate, "sub"))
	assert.True(t, ev.IsDir)
	w.waitEvent(t, "the sandbox's file", isEvent(workspace.FileEventCreate, "sub/deep/from-sandbox"))

	// The file API.
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "sub/from-api.txt", []byte("api")))
	w.waitEvent(t, "the file API's write", func(ev workspace.FileEvent) bool {
		return ev.Path == "sub/from-api.txt" && (ev.Type == workspace.FileEventCreate || ev.Type == workspace.FileEventWrite)
	})

	// NFS.
	nfs, err := c.NFS.Open(ctx, ws.ID)
	require.NoError(t, err)
	defer nfs.Close()
	require.NoError(t, nfs.WriteFile("sub/deep/from-nfs.txt", []byte("nfs"), 0o644))
	w.waitEvent(t, "the NFS write", func(ev workspace.FileEvent) bool {
		return ev.Path == "sub/deep/from-nfs.txt" && (ev.Type == workspace.FileEventCreate || ev.Type == workspace.FileEventWrite)
	})

	require.NoError(t, c.Workspace.DeleteFile(ctx, ws.ID, "sub/from-api.txt", nil))
	w.waitEvent(t, "the removal", isEvent(workspace.FileEventRemove, "sub/from-api.txt"))
}

func TestWatchNonRecursiveSubdirectory(t *testing.T) {
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	require.NoError(t, c.Workspace.Mkdir(ctx, ws.ID, "dir/inner"))
	w := startWatch(t, ctxFor(t), c, ws.ID, "dir", false)
	w.ready(t, c, ws.ID, "dir/")
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "dir/inner/hidden.txt", []byte("not watched")))
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "outside.txt", []byte("not watched")))
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "dir/seen.txt", []byte("watched")))
	ev := w.waitEvent(t, "dir/seen.txt", func(ev workspace.FileEvent) bool {
		assert.NotEqual(t, "dir/inner/hidden.txt", ev.Path, "not recursive")
		assert.NotEqual(t, "outside.txt", ev.Path, "outside the path")
		return ev.Path == "dir/seen.txt"
	})
	assert.False(t, ev.IsDir)
}

func TestWatchOverflow(t *testing.T) {
	url := configuredServer(t, func(c *server.Config) { c.WatchQueue = 1 })
	c := newClient(t, url)
	ctx := ctxFor(t)
	ws, sb := newSandbox(t, c, nil)
	w := startWatch(t, ctxFor(t), c, ws.ID, "", true)
	w.ready(t, c, ws.ID, "")
	long := strings.Repeat("n", 200)
	for burst := 0; ; burst++ {
		require.Less(t, burst, 10, "no overflow after 10 bursts")
		// While the test reads nothing, a sandbox makes thousands of files.
		script := fmt.Sprintf(`mkdir b%d && cd b%d && i=0; while [ $i -lt 5000 ]; do : > %s$i; i=$((i+1)); done`, burst, burst, long)
		res, err := c.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", script}})
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode, res.Stderr)
		// Then read what the watch delivers until the last file shows.
		last := fmt.Sprintf("b%d/%s4999", burst, long)
		overflow := false
		w.waitEvent(t, "the burst's end or an overflow", func(ev workspace.FileEvent) bool {
			if ev.Type == workspace.FileEventOverflow {
				overflow = true
				assert.Empty(t, ev.Path)
			}
			return overflow || ev.Path == last
		})
		if overflow {
			return
		}
	}
}

func TestWatchEndsWhenWorkspaceDeleted(t *testing.T) {
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	w := startWatch(t, ctxFor(t), c, ws.ID, "", true)
	w.ready(t, c, ws.ID, "")
	require.NoError(t, c.Workspace.Delete(ctx, ws.ID))
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-w.events: // the removal of the files
		case err := <-w.end:
			assert.ErrorIs(t, err, workspace.ErrWorkspaceNotFound)
			return
		case <-deadline.C:
			t.Fatal("the watch did not end")
		}
	}
}

func TestWatchErrors(t *testing.T) {
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	first := func(path string) error {
		for _, err := range c.Workspace.Watch(ctx, ws.ID, path, nil) {
			return err
		}
		return nil
	}
	assert.ErrorIs(t, first("missing"), workspace.ErrFileNotFound)
	assert.ErrorIs(t, first("../.."), workspace.ErrPathNotAllowed)
	for _, err := range c.Workspace.Watch(ctx, "no-such-workspace", "", nil) {
		assert.ErrorIs(t, err, workspace.ErrWorkspaceNotFound)
		break
	}

	base := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	bc := base.Client()
	bws, err := bc.Workspace.Create(ctx, nil)
	require.NoError(t, err)
	for _, err := range bc.Workspace.Watch(ctx, bws.ID, "", nil) {
		assert.ErrorIs(t, err, workspace.ErrUnsupported)
		break
	}
}
