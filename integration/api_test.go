package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// The integration suite runs the SDK against the real reference server with
// real sandboxes, in both of its modes: full (every extension advertised)
// and base (answers as the upstream service does), so that the fallback
// paths upstream users hit are exercised for real.

type mode struct {
	name string
	opts []workspacetest.Option
}

var modes = []mode{
	{name: "full"},
	{name: "base", opts: []workspacetest.Option{workspacetest.WithBaseMode()}},
}

// eachMode runs fn once per server mode, each with a fresh server.
func eachMode(t *testing.T, fn func(t *testing.T, srv *workspacetest.Server, c *workspace.Client)) {
	t.Helper()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			srv := workspacetest.NewServer(t, m.opts...)
			fn(t, srv, srv.Client())
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newSandbox creates a workspace and a running sandbox bound to it.
func newSandbox(t *testing.T, c *workspace.Client, params *workspace.CreateSandboxParams) (*workspace.Workspace, *workspace.Sandbox) {
	t.Helper()
	ctx := ctxFor(t)
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "it"})
	require.NoError(t, err)
	p := workspace.CreateSandboxParams{}
	if params != nil {
		p = *params
	}
	p.WorkspaceID = ws.ID
	sb, err := c.Sandbox.Create(ctx, &p)
	require.NoError(t, err)
	require.Equal(t, workspace.StateRunning, sb.State)
	return ws, sb
}

// workspaceFixture starts a full-mode server and returns its client and a
// new workspace.
func workspaceFixture(t *testing.T) (*workspace.Client, *workspace.Workspace) {
	t.Helper()
	c := workspacetest.NewServer(t).Client()
	ws, err := c.Workspace.Create(ctxFor(t), nil)
	require.NoError(t, err)
	return c, ws
}

// sandboxFixture starts a full-mode server and returns its client and a new
// running sandbox (newSandbox) with its workspace.
func sandboxFixture(t *testing.T, params *workspace.CreateSandboxParams) (*workspace.Client, *workspace.Workspace, *workspace.Sandbox) {
	t.Helper()
	c := workspacetest.NewServer(t).Client()
	ws, sb := newSandbox(t, c, params)
	return c, ws, sb
}

func TestIntegrationHealth(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		h, err := c.Health(ctxFor(t))
		require.NoError(t, err)
		assert.Equal(t, "healthy", h.Status)
		assert.NotEmpty(t, h.Version)
		if strings.HasSuffix(t.Name(), "base") {
			assert.Empty(t, h.Features)
		} else {
			assert.Contains(t, h.Features, "binary")
			assert.Contains(t, h.Features, "process.stdin")
		}
	})
}

func TestIntegrationFiles(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		ws, err := c.Workspace.Create(ctx, nil)
		require.NoError(t, err)
		id := ws.ID

		require.NoError(t, c.Workspace.WriteFile(ctx, id, "src/main.py", []byte(`print("hello")`)))
		data, err := c.Workspace.ReadFile(ctx, id, "src/main.py")
		require.NoError(t, err)
		assert.Equal(t, `print("hello")`, string(data))

		require.NoError(t, c.Workspace.Mkdir(ctx, id, "src/components"))
		require.NoError(t, c.Workspace.CopyFile(ctx, id, "src/main.py", "src/backup.py"))
		require.NoError(t, c.Workspace.MoveFile(ctx, id, "src/backup.py", "src/old.py"))

		files, err := c.Workspace.ListFiles(ctx, id, "src")
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		assert.Equal(t, []string{"components", "main.py", "old.py"}, names)
		assert.Equal(t, workspace.FileTypeDirectory, files[0].Type)
		assert.Equal(t, workspace.FileTypeFile, files[1].Type)

		info, err := c.Workspace.GetFileInfo(ctx, id, "src/main.py")
		require.NoError(t, err)
		assert.Equal(t, int64(len(`print("hello")`)), info.Size)
		assert.Equal(t, "main.py", info.Name)
		assert.False(t, info.ModifiedAt.IsZero())

		ok, err := c.Workspace.Exists(ctx, id, "src/old.py")
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, c.Workspace.DeleteFile(ctx, id, "src/old.py", nil))
		ok, err = c.Workspace.Exists(ctx, id, "src/old.py")
		require.NoError(t, err)
		assert.False(t, ok)

		_, err = c.Workspace.ReadFile(ctx, id, "missing.txt")
		assert.ErrorIs(t, err, workspace.ErrFileNotFound)

		// Copying a directory is recursive; deleting it needs Recursive.
		require.NoError(t, c.Workspace.CopyFile(ctx, id, "src", "src2"))
		data, err = c.Workspace.ReadFile(ctx, id, "src2/main.py")
		require.NoError(t, err)
		assert.Equal(t, `print("hello")`, string(data))
		err = c.Workspace.DeleteFile(ctx, id, "src2", nil)
		assert.Error(t, err)
		if !strings.HasSuffix(t.Name(), "base") {
			assert.ErrorIs(t, err, workspace.ErrDirectoryNotEmpty)
		}
		require.NoError(t, c.Workspace.DeleteFile(ctx, id, "src2", &workspace.DeleteFileOptions{Recursive: true}))

		// Binary data round-trips with the binary extension, and is
		// refused up front (never corrupted) without it.
		bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', 0x80}
		err = c.Workspace.WriteFile(ctx, id, "bin.dat", bin)
		if strings.HasSuffix(t.Name(), "base") {
			assert.ErrorIs(t, err, workspace.ErrUnsupported)
		} else {
			require.NoError(t, err)
			got, err := c.Workspace.ReadFile(ctx, id, "bin.dat")
			require.NoError(t, err)
			assert.Equal(t, bin, got)
		}
	})
}

func TestIntegrationLargeFile(t *testing.T) {
	t.Parallel()
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)
	big := bytes.Repeat([]byte("0123456789abcdef\x00\xff"), 4<<20/18*16) // ~64 MiB
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "big.bin", big))
	got, err := c.Workspace.ReadFile(ctx, ws.ID, "big.bin")
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, got), "64 MiB file differs after round trip")
}

func TestIntegrationFilePathsConfined(t *testing.T) {
	t.Parallel()
	c, ws, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	// Plant escaping links and a FIFO from inside the sandbox.
	res, err := c.Process.Shell(ctx, sb.ID, `
		ln -s /etc/passwd abs-link &&
		ln -s ../../../../../../etc/passwd rel-link &&
		ln -s /etc dir-link &&
		mkfifo fifo && echo planted`, nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)

	for _, p := range []string{"../x", "../../etc/passwd", "abs-link", "rel-link", "dir-link/passwd"} {
		_, err := c.Workspace.ReadFile(ctx, ws.ID, p)
		assert.ErrorIs(t, err, workspace.ErrPathNotAllowed, p)
	}
	err = c.Workspace.WriteFile(ctx, ws.ID, "dir-link/evil", []byte("x"))
	assert.ErrorIs(t, err, workspace.ErrPathNotAllowed)

	done := make(chan error, 1)
	go func() {
		_, err := c.Workspace.ReadFile(ctx, ws.ID, "fifo")
		done <- err
	}()
	select {
	case err := <-done:
		assert.Error(t, err, "reading a FIFO must be refused")
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO hung")
	}
}

func TestIntegrationRun(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		_, sb := newSandbox(t, c, &workspace.CreateSandboxParams{
			Template: "workspace-test:latest",
			Env:      map[string]string{"APP_ENV": "development"},
		})

		res, err := c.Process.Run(ctx, sb.ID, "echo", &workspace.RunCommandOptions{Args: []string{"Hello", "World"}})
		require.NoError(t, err)
		assert.Equal(t, "Hello World\n", res.Stdout)
		assert.Equal(t, 0, res.ExitCode)

		out, err := c.Process.Exec(ctx, sb.ID, "pwd")
		require.NoError(t, err)
		assert.Equal(t, "/workspace\n", out)

		res, err = c.Process.Shell(ctx, sb.ID, `echo "$APP_ENV $DEBUG $WORKSPACE_SANDBOX_ID"; echo err >&2; exit 3`,
			&workspace.RunCommandOptions{Env: map[string]string{"DEBUG": "true"}})
		require.NoError(t, err)
		assert.Equal(t, 3, res.ExitCode)
		assert.Equal(t, "development true "+sb.ID+"\n", res.Stdout)
		assert.Equal(t, "err\n", res.Stderr)

		_, err = c.Process.Exec(ctx, sb.ID, "sh", "-c", "echo partial; exit 7")
		var exitErr *workspace.ExitError
		require.ErrorAs(t, err, &exitErr)
		assert.Equal(t, 7, exitErr.ExitCode)
		assert.Equal(t, "partial\n", exitErr.Stdout)

		res, err = c.Process.Run(ctx, sb.ID, "ls", &workspace.RunCommandOptions{Args: []string{"-la"}, Cwd: "/tmp"})
		require.NoError(t, err)
		assert.Equal(t, 0, res.ExitCode)

		res, err = c.Process.Run(ctx, sb.ID, "no-such-command", nil)
		require.NoError(t, err)
		assert.Equal(t, 127, res.ExitCode)

		_, err = c.Process.Run(ctx, sb.ID, "sleep", &workspace.RunCommandOptions{Args: []string{"30"}, Timeout: 300 * time.Millisecond})
		assert.ErrorIs(t, err, workspace.ErrProcessTimeout)

		hostname, err := c.Process.Exec(ctx, sb.ID, "hostname")
		require.NoError(t, err)
		assert.Contains(t, hostname, sb.ID[:8])

		if strings.HasSuffix(t.Name(), "base") {
			_, err = c.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Stdin: []byte("x")})
			assert.ErrorIs(t, err, workspace.ErrUnsupported)
		} else {
			res, err = c.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Stdin: []byte("from stdin\x00\xff")})
			require.NoError(t, err)
			assert.Equal(t, "from stdin\x00\xff", res.Stdout)
		}
	})
}

func TestIntegrationSandboxLifecycle(t *testing.T) {
	t.Parallel()
	eachMode(t, func(t *testing.T, srv *workspacetest.Server, c *workspace.Client) {
		ctx := ctxFor(t)
		ws, sb := newSandbox(t, c, &workspace.CreateSandboxParams{
			Name:     "my-sandbox",
			Metadata: map[string]string{"project": "demo"},
			Timeout:  time.Hour,
		})
		assert.Equal(t, "my-sandbox", sb.Name)
		assert.Equal(t, ws.ID, sb.WorkspaceID)
		assert.Equal(t, time.Hour, sb.Timeout)
		assert.Equal(t, "default", sb.Template)

		got, err := c.Sandbox.Get(ctx, sb.ID)
		require.NoError(t, err)
		assert.Equal(t, workspace.StateRunning, got.State)

		ok, err := c.Sandbox.Exists(ctx, sb.ID)
		require.NoError(t, err)
		assert.True(t, ok)
		ok, err = c.Sandbox.Exists(ctx, "no-such-sandbox")
		require.NoError(t, err)
		assert.False(t, ok)

		running, err := c.Sandbox.List(ctx, &workspace.ListSandboxesOptions{State: workspace.StateRunning})
		require.NoError(t, err)
		require.Len(t, running, 1)
		assert.Equal(t, sb.ID, running[0].ID)
		stopped, err := c.Sandbox.List(ctx, &workspace.ListSandboxesOptions{State: workspace.StateStopped})
		require.NoError(t, err)
		assert.Empty(t, stopped)

		w, err := c.Sandbox.WaitForState(ctx, sb.ID, workspace.StateRunning)
		require.NoError(t, err)
		assert.Equal(t, sb.ID, w.ID)

		// The workspace cannot go while a sandbox uses it.
		err = c.Workspace.Delete(ctx, ws.ID)
		assert.ErrorIs(t, err, workspace.ErrWorkspaceHasActiveSandboxes)

		_, err = c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Template: "no-such-template"})
		assert.ErrorIs(t, err, workspace.ErrTemplateNotFound)
		_, err = c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: "no-such-workspace"})
		assert.ErrorIs(t, err, workspace.ErrWorkspaceNotFound)

		if strings.HasSuffix(t.Name(), "base") {
			err = c.Sandbox.Delete(ctx, sb.ID, nil)
			assert.ErrorIs(t, err, workspace.ErrInvalidSandboxState)
		}
		require.NoError(t, c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}))
		_, err = c.Sandbox.Get(ctx, sb.ID)
		assert.ErrorIs(t, err, workspace.ErrSandboxNotFound)
		require.NoError(t, c.Workspace.Delete(ctx, ws.ID))
	})
}

func TestIntegrationGracefulDelete(t *testing.T) {
	t.Parallel()
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	require.NoError(t, c.Sandbox.Delete(ctx, sb.ID, nil))
	_, err := c.Sandbox.Get(ctx, sb.ID)
	assert.ErrorIs(t, err, workspace.ErrSandboxNotFound)
}

func TestIntegrationBackgroundProcessLivesWithSandbox(t *testing.T) {
	t.Parallel()
	c, ws, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	// A daemon started by one command is alive for the next one.
	_, err := c.Process.Shell(ctx, sb.ID, `(while true; do date +%s%N > /workspace/beat; sleep 0.05; done) >/dev/null 2>&1 &`, nil)
	require.NoError(t, err)
	readBeat := func() string {
		b, err := c.Workspace.ReadFile(ctx, ws.ID, "beat")
		if err != nil {
			return ""
		}
		return string(b)
	}
	require.Eventually(t, func() bool { return readBeat() != "" }, 5*time.Second, 20*time.Millisecond)
	first := readBeat()
	require.Eventually(t, func() bool { b := readBeat(); return b != "" && b != first }, 5*time.Second, 20*time.Millisecond,
		"background process stopped between commands")
	ps, err := c.Process.Exec(ctx, sb.ID, "sh", "-c", "ps -eo comm 2>/dev/null || ls /proc")
	require.NoError(t, err)
	assert.NotEmpty(t, ps)

	// It dies with the sandbox.
	require.NoError(t, c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}))
	last := readBeat()
	assert.Never(t, func() bool { return readBeat() != last }, 500*time.Millisecond, 20*time.Millisecond,
		"background process outlived its sandbox")
}

func TestIntegrationTmpPrivateAndPersistent(t *testing.T) {
	t.Parallel()
	c, ws, a := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	b, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	require.NoError(t, err)

	_, err = c.Process.Shell(ctx, a.ID, "echo secret > /tmp/a.txt", nil)
	require.NoError(t, err)
	out, err := c.Process.Exec(ctx, a.ID, "cat", "/tmp/a.txt")
	require.NoError(t, err)
	assert.Equal(t, "secret\n", out, "/tmp must persist within a sandbox")

	res, err := c.Process.Run(ctx, b.ID, "cat", &workspace.RunCommandOptions{Args: []string{"/tmp/a.txt"}})
	require.NoError(t, err)
	assert.NotEqual(t, 0, res.ExitCode, "/tmp must be private to a sandbox")

	// Both sandboxes share /workspace, and the file API sees it too.
	_, err = c.Process.Shell(ctx, a.ID, "echo shared > /workspace/shared.txt", nil)
	require.NoError(t, err)
	out, err = c.Process.Exec(ctx, b.ID, "cat", "/workspace/shared.txt")
	require.NoError(t, err)
	assert.Equal(t, "shared\n", out)
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "shared.txt")
	require.NoError(t, err)
	assert.Equal(t, "shared\n", string(data))

	// Files the server writes are usable from inside, and the other way round.
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "dir/from-api.txt", []byte("api")))
	_, err = c.Process.Shell(ctx, b.ID, "echo more >> dir/from-api.txt && mkdir -p dir/sub && echo x > dir/sub/y", nil)
	require.NoError(t, err)
	data, err = c.Workspace.ReadFile(ctx, ws.ID, "dir/from-api.txt")
	require.NoError(t, err)
	assert.Equal(t, "apimore\n", string(data))
	require.NoError(t, c.Workspace.DeleteFile(ctx, ws.ID, "dir", &workspace.DeleteFileOptions{Recursive: true}))
}

func TestIntegrationSandboxTimeout(t *testing.T) {
	t.Parallel()
	c, _, sb := sandboxFixture(t, &workspace.CreateSandboxParams{Timeout: time.Second})
	ctx := ctxFor(t)
	require.Eventually(t, func() bool {
		s, err := c.Sandbox.Get(ctx, sb.ID)
		return err == nil && s.State == workspace.StateStopped
	}, 15*time.Second, 50*time.Millisecond)
	_, err := c.Process.Run(ctx, sb.ID, "true", nil)
	assert.ErrorIs(t, err, workspace.ErrInvalidSandboxState)
	_, err = c.Sandbox.WaitForState(ctx, sb.ID, workspace.StateStopped)
	require.NoError(t, err)
}

func TestIntegrationRestartKeepsState(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := ctxFor(t)
	ws, sb := newSandbox(t, c, nil)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "keep/me.txt", []byte("persisted")))
	_, err := c.Process.Shell(ctx, sb.ID, "echo from-sandbox > made-inside.txt", nil)
	require.NoError(t, err)

	srv.Restart()
	c = srv.Client()

	got, err := c.Workspace.Get(ctx, ws.ID)
	require.NoError(t, err)
	assert.Equal(t, ws.Name, got.Name)
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "keep/me.txt")
	require.NoError(t, err)
	assert.Equal(t, "persisted", string(data))
	data, err = c.Workspace.ReadFile(ctx, ws.ID, "made-inside.txt")
	require.NoError(t, err)
	assert.Equal(t, "from-sandbox\n", string(data))

	s, err := c.Sandbox.Get(ctx, sb.ID)
	require.NoError(t, err)
	assert.Equal(t, workspace.StateStopped, s.State, "a sandbox running at shutdown comes back stopped")
	// A stopped sandbox no longer blocks its workspace.
	require.NoError(t, c.Workspace.Delete(ctx, ws.ID))
}

func TestIntegrationSecurity(t *testing.T) {
	t.Setenv("WORKSPACE_TEST_HOST_SECRET", "hunter2")
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	run := func(script string) *workspace.CommandResult {
		t.Helper()
		res, err := c.Process.Shell(ctx, sb.ID, script, nil)
		require.NoError(t, err)
		return res
	}
	assert.NotEqual(t, 0, run("cat /etc/shadow").ExitCode, "reading /etc/shadow must fail")
	assert.NotEqual(t, 0, run("touch /usr/evil").ExitCode, "writing under /usr must fail")
	assert.NotEqual(t, 0, run("echo x > /usr/bin/evil").ExitCode, "writing under /usr/bin must fail")
	assert.NotEqual(t, 0, run("mount -o remount,rw /usr").ExitCode, "remounting /usr must fail")
	assert.NotEqual(t, 0, run("mknod /tmp/dev c 1 3").ExitCode, "mknod must fail")
	env := run("env").Stdout
	assert.NotContains(t, env, "hunter2", "the server's environment leaked into the sandbox")
	caps := run("grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status").Stdout
	for _, line := range strings.Split(strings.TrimSpace(caps), "\n") {
		fields := strings.Fields(line)
		require.Len(t, fields, 2, line)
		assert.Equal(t, "0000000000000000", fields[1], "capability set not empty: %s", line)
	}
	// Only the sandbox's own processes are visible.
	procs := run("ls -d /proc/[0-9]* | wc -l").Stdout
	var n int
	_, _ = fmt.Sscan(procs, &n)
	assert.Less(t, n, 20, "sandbox sees host processes")
}

func TestIntegrationNoNetworkByDefault(t *testing.T) {
	t.Parallel()
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	res, err := c.Process.Shell(ctx, sb.ID, "cat /proc/net/dev | tail -n +3 | cut -d: -f1", nil)
	require.NoError(t, err)
	assert.Equal(t, "lo", strings.TrimSpace(res.Stdout), "sandbox must have only a loopback interface")
}

func TestIntegrationAuth(t *testing.T) {
	t.Parallel()
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("s3cret"))
	ctx := ctxFor(t)

	good := srv.Client()
	_, err := good.Workspace.List(ctx)
	require.NoError(t, err)
	h, err := good.Health(ctx)
	require.NoError(t, err)
	assert.Contains(t, h.Features, "auth")

	for _, key := range []string{"", "wrong"} {
		var opts []workspace.Option
		if key != "" {
			opts = append(opts, workspace.WithAPIKey(key))
		}
		bad, err := workspace.NewClient(srv.URL, opts...)
		require.NoError(t, err)
		_, err = bad.Workspace.List(ctx)
		assert.ErrorIs(t, err, workspace.ErrUnauthorized, "key %q", key)
		var apiErr *workspace.Error
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
		// Health needs no key.
		_, err = bad.Health(ctx)
		assert.NoError(t, err)
		bad.Close()
	}
}

func TestIntegrationConcurrentSandboxes(t *testing.T) {
	t.Parallel()
	c, ws := workspaceFixture(t)
	ctx := ctxFor(t)

	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
			if err != nil {
				errs[i] = err
				return
			}
			for j := range 5 {
				out, err := c.Process.Exec(ctx, sb.ID, "echo", fmt.Sprintf("worker %d/%d", i, j))
				if err != nil {
					errs[i] = err
					return
				}
				outs[i] = out
			}
			errs[i] = c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true})
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, fmt.Sprintf("worker %d/4\n", i), outs[i])
	}
	require.NoError(t, c.Workspace.Delete(ctx, ws.ID))
}

func TestIntegrationContextCancelStopsRun(t *testing.T) {
	t.Parallel()
	c, _, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err := c.Process.Run(short, sb.ID, "sleep", &workspace.RunCommandOptions{Args: []string{"123"}})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)

	// The server killed the process when the client went away.
	require.Eventually(t, func() bool {
		res, err := c.Process.Shell(ctx, sb.ID, "ps -eo args | grep -c '^sleep 123' || true", nil)
		return err == nil && strings.TrimSpace(res.Stdout) == "0"
	}, 5*time.Second, 50*time.Millisecond)
}
