package workspace_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// The NFS integration tests drive the userspace session (NFS.Open) against
// the reference server's NFS listener, with real sandboxes on the other
// side. The raw-RPC proof that one workspace's file handles are refused on
// another's export (spliced ids and tags, tampered and truncated handles,
// another server's handles) is internal/nfsserver's TestForeignHandleRefused;
// here TestIntegrationNFSDeletedWorkspace shows end to end that a deleted
// workspace's handles stop working and its export disappears.

// nfsCtx is the context of one NFS integration test (a minute at most).
func nfsCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// nfsFixture starts a server and creates a workspace: the server, its
// client and the workspace.
func nfsFixture(t *testing.T) (*workspacetest.Server, *workspace.Client, *workspace.Workspace) {
	t.Helper()
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ws, err := c.Workspace.Create(nfsCtx(t), nil)
	require.NoError(t, err)
	return srv, c, ws
}

// nfsSandbox creates a workspace and a running sandbox bound to it.
func nfsSandbox(t *testing.T, c *workspace.Client) (*workspace.Workspace, *workspace.Sandbox) {
	t.Helper()
	ctx := nfsCtx(t)
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "nfs-it"})
	require.NoError(t, err)
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	require.NoError(t, err)
	require.Equal(t, workspace.StateRunning, sb.State)
	return ws, sb
}

// openNFS opens a session on ws and closes it with the test.
func openNFS(t *testing.T, c *workspace.Client, wsID string) *workspace.NFSFileSystem {
	t.Helper()
	fsys, err := c.NFS.Open(nfsCtx(t), wsID)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fsys.Close() })
	return fsys
}

// sh runs script with sh -c in the sandbox and returns its stdout,
// failing the test on a non-zero exit.
func sh(t *testing.T, c *workspace.Client, sbID, script string) string {
	t.Helper()
	res, err := c.Process.Run(nfsCtx(t), sbID, "sh", &workspace.RunCommandOptions{Args: []string{"-c", script}})
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, "%s: stderr %q", script, res.Stderr)
	return res.Stdout
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sha256Of hashes r to the end with 1 MiB reads.
func sha256Of(t *testing.T, r io.Reader) (string, int64) {
	t.Helper()
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil)), n
}

func TestIntegrationNFSTestFS(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := nfsCtx(t)
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "nfs-fstest"})
	require.NoError(t, err)
	files := map[string]string{
		"README.md":          "# hello\n",
		"src/main.go":        "package main\n",
		"src/lib/util.go":    "package lib\n",
		"data/empty.txt":     "",
		"data/space name.md": "spaces are fine\n",
	}
	for name, body := range files {
		require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, name, []byte(body)))
	}
	require.NoError(t, c.Workspace.Mkdir(ctx, ws.ID, "emptydir"))

	fsys := openNFS(t, c, ws.ID)
	require.NoError(t, fstest.TestFS(fsys, "README.md", "src/main.go", "src/lib/util.go", "data/empty.txt", "data/space name.md", "emptydir"))
	for name, body := range files {
		got, err := fsys.ReadFile(name)
		require.NoError(t, err)
		assert.Equal(t, body, string(got), name)
	}
	_, err = fsys.Open("missing.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

func TestIntegrationNFSSandboxAndFileAPI(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := nfsCtx(t)
	ws, sb := nfsSandbox(t, c)
	fsys := openNFS(t, c, ws.ID)

	t.Run("NFSToSandboxAndAPI", func(t *testing.T) {
		require.NoError(t, fsys.MkdirAll("from-nfs", 0o755))
		require.NoError(t, fsys.WriteFile("from-nfs/hello.txt", []byte("written over NFS\n"), 0o644))
		res, err := c.Process.Run(ctx, sb.ID, "cat", &workspace.RunCommandOptions{Args: []string{"from-nfs/hello.txt"}})
		require.NoError(t, err)
		require.Equal(t, 0, res.ExitCode, res.Stderr)
		assert.Equal(t, "written over NFS\n", res.Stdout)
		got, err := c.Workspace.ReadFile(ctx, ws.ID, "from-nfs/hello.txt")
		require.NoError(t, err)
		assert.Equal(t, "written over NFS\n", string(got))
		// The sandbox can modify what NFS created.
		sh(t, c, sb.ID, "echo appended >> from-nfs/hello.txt")
		got, err = fsys.ReadFile("from-nfs/hello.txt")
		require.NoError(t, err)
		assert.Equal(t, "written over NFS\nappended\n", string(got))
	})

	t.Run("SandboxAndAPIToNFS", func(t *testing.T) {
		sh(t, c, sb.ID, "mkdir -p from-sb && printf 'made in a sandbox' > from-sb/out.txt")
		got, err := fsys.ReadFile("from-sb/out.txt")
		require.NoError(t, err)
		assert.Equal(t, "made in a sandbox", string(got))
		require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "from-api.txt", []byte("written by WriteFile")))
		got, err = fsys.ReadFile("from-api.txt")
		require.NoError(t, err)
		assert.Equal(t, "written by WriteFile", string(got))
		ents, err := fsys.ReadDir(".")
		require.NoError(t, err)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		assert.Subset(t, names, []string{"from-sb", "from-api.txt"})
	})

	t.Run("OneMiB", func(t *testing.T) {
		data := make([]byte, 1<<20)
		_, _ = rand.Read(data)
		want := sha256Hex(data)
		// NFS -> file API and sandbox.
		require.NoError(t, fsys.WriteFile("mib-nfs.bin", data, 0o644))
		got, err := c.Workspace.ReadFile(ctx, ws.ID, "mib-nfs.bin")
		require.NoError(t, err)
		assert.Equal(t, want, sha256Hex(got))
		assert.Equal(t, want+"  mib-nfs.bin\n", sh(t, c, sb.ID, "sha256sum mib-nfs.bin"))
		// File API -> NFS.
		data[0] ^= 0xff
		want = sha256Hex(data)
		require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "mib-api.bin", data))
		got, err = fsys.ReadFile("mib-api.bin")
		require.NoError(t, err)
		assert.Equal(t, want, sha256Hex(got))
	})

	t.Run("HundredMiB", func(t *testing.T) {
		// The sandbox writes 100 MiB; it crosses NFS once (read with a
		// small buffer, so the session's read-ahead is exercised) and the
		// file API once, and NFS writes it back as a copy the sandbox
		// checks, all by sha256.
		const size = 100 << 20
		out := sh(t, c, sb.ID, "head -c 104857600 /dev/urandom > big.bin && sha256sum big.bin")
		want, _, ok := strings.Cut(out, "  ")
		require.True(t, ok, out)

		f, err := fsys.Open("big.bin")
		require.NoError(t, err)
		info, err := f.Stat()
		require.NoError(t, err)
		assert.EqualValues(t, size, info.Size())
		cp, err := fsys.Create("big-copy.bin")
		require.NoError(t, err)
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(h, cp), struct{ io.Reader }{f}, make([]byte, 64<<10))
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.NoError(t, cp.Close())
		assert.EqualValues(t, size, n)
		assert.Equal(t, want, hex.EncodeToString(h.Sum(nil)), "read over NFS")

		rc, err := c.Workspace.Download(ctx, ws.ID, "big.bin", nil)
		require.NoError(t, err)
		got, n := sha256Of(t, rc)
		require.NoError(t, rc.Close())
		assert.EqualValues(t, size, n)
		assert.Equal(t, want, got, "read through the file API")

		assert.Equal(t, want+"  big-copy.bin\n", sh(t, c, sb.ID, "sha256sum big-copy.bin"), "written over NFS")
		sh(t, c, sb.ID, "rm big.bin big-copy.bin")
	})
}

func TestIntegrationNFSPlantedSymlinks(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ws, sb := nfsSandbox(t, c)
	sh(t, c, sb.ID, "ln -s /etc etc-link && ln -s /etc/passwd pw && ln -s ../../../../etc up-link")
	fsys := openNFS(t, c, ws.ID)
	hostPasswd, err := os.Stat("/etc/passwd")
	require.NoError(t, err)

	for _, name := range []string{"etc-link", "pw", "up-link"} {
		info, err := fsys.Stat(name)
		require.NoError(t, err, name)
		assert.Equal(t, fs.ModeSymlink, info.Mode().Type(), "%s: the link itself, not its target", name)
		assert.False(t, info.IsDir(), name)
	}
	info, err := fsys.Stat("pw")
	require.NoError(t, err)
	assert.EqualValues(t, len("/etc/passwd"), info.Size(), "the link's size, not the host file's (%d)", hostPasswd.Size())

	for _, name := range []string{"etc-link/passwd", "up-link/passwd", "etc-link/hostname"} {
		_, err := fsys.Stat(name)
		assert.Error(t, err, name)
		_, err = fsys.ReadFile(name)
		assert.Error(t, err, name)
	}
	_, err = fsys.ReadFile("pw")
	assert.Error(t, err, "reading through a link to /etc/passwd")
	f, err := fsys.Open("pw")
	if err == nil {
		_, err = io.ReadAll(f)
		_ = f.Close()
	}
	assert.Error(t, err, "opening and reading a link to /etc/passwd")
	_, err = fsys.ReadDir("etc-link")
	assert.Error(t, err)
	assert.Error(t, fsys.WriteFile("etc-link/nfs-evil", []byte("x"), 0o644))
	assert.Error(t, fsys.MkdirAll("etc-link/nfs-evil-dir", 0o755))
	_, err = os.Lstat("/etc/nfs-evil")
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Lstat("/etc/nfs-evil-dir")
	assert.ErrorIs(t, err, os.ErrNotExist)

	// Removing the link over NFS removes the link, not /etc.
	require.NoError(t, fsys.Remove("pw"))
	_, err = os.Stat("/etc/passwd")
	require.NoError(t, err)
	assert.Equal(t, "etc-link\nup-link\n", sh(t, c, sb.ID, "ls"))
}

// TestIntegrationNFSSpecialFiles: a FIFO planted from a sandbox is refused
// over NFS at once, for reading and writing, instead of blocking the server.
func TestIntegrationNFSSpecialFiles(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ws, sb := nfsSandbox(t, c)
	sh(t, c, sb.ID, "mkfifo fifo && echo ok > regular.txt")
	fsys := openNFS(t, c, ws.ID)

	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		b, err := fsys.ReadFile("fifo")
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		assert.ErrorIs(t, r.err, fs.ErrPermission, "reading a FIFO over NFS")
	case <-time.After(10 * time.Second):
		t.Fatal("reading a FIFO over NFS hung")
	}
	werr := make(chan error, 1)
	go func() { werr <- fsys.WriteFile("fifo", []byte("x"), 0o644) }()
	select {
	case err := <-werr:
		assert.Error(t, err, "writing a FIFO over NFS")
	case <-time.After(10 * time.Second):
		t.Fatal("writing a FIFO over NFS hung")
	}
	// The server still answers.
	b, err := fsys.ReadFile("regular.txt")
	require.NoError(t, err)
	assert.Equal(t, "ok\n", string(b))
}

func TestIntegrationNFSDeletedWorkspace(t *testing.T) {
	_, c, ws := nfsFixture(t)
	ctx := nfsCtx(t)
	other, err := c.Workspace.Create(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "doomed.txt", []byte("soon gone")))
	require.NoError(t, c.Workspace.WriteFile(ctx, other.ID, "kept.txt", []byte("still here")))
	fsys := openNFS(t, c, ws.ID)
	otherFS := openNFS(t, c, other.ID)
	f, err := fsys.Open("doomed.txt")
	require.NoError(t, err)
	defer f.Close()

	require.NoError(t, c.Workspace.Delete(ctx, ws.ID))

	// The open session's handles (root and file) are stale now.
	_, err = fsys.Stat("doomed.txt")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = fsys.ReadDir(".")
	assert.ErrorIs(t, err, fs.ErrNotExist)
	_, err = f.(io.ReaderAt).ReadAt(make([]byte, 4), 0)
	assert.ErrorIs(t, err, fs.ErrNotExist)
	assert.Error(t, fsys.WriteFile("new.txt", []byte("x"), 0o644))
	// The export is gone: Open fails (Workspace.Get already says 404)...
	_, err = c.NFS.Open(ctx, ws.ID)
	assert.ErrorIs(t, err, workspace.ErrWorkspaceNotFound)
	// ...and the other workspace's export is untouched.
	got, err := otherFS.ReadFile("kept.txt")
	require.NoError(t, err)
	assert.Equal(t, "still here", string(got))
}

func TestIntegrationNFSAfterRestart(t *testing.T) {
	srv, c, ws := nfsFixture(t)
	ctx := nfsCtx(t)
	fsys := openNFS(t, c, ws.ID)
	require.NoError(t, fsys.WriteFile("before.txt", []byte("written before the restart"), 0o644))
	require.NoError(t, fsys.Close())

	srv.Restart()

	fsys = openNFS(t, c, ws.ID)
	got, err := fsys.ReadFile("before.txt")
	require.NoError(t, err)
	assert.Equal(t, "written before the restart", string(got))
	require.NoError(t, fsys.WriteFile("after.txt", []byte("and after"), 0o644))
	got, err = c.Workspace.ReadFile(ctx, ws.ID, "after.txt")
	require.NoError(t, err)
	assert.Equal(t, "and after", string(got))
}

// kernelNFS reports whether this process could kernel-mount NFS: root and
// nfs in /proc/filesystems.
func kernelNFS() (bool, string) {
	if os.Geteuid() != 0 {
		return false, "not root"
	}
	b, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return false, err.Error()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "nfs" {
			return true, ""
		}
	}
	return false, "the kernel has no NFS client (no nfs in /proc/filesystems)"
}

func TestIntegrationNFSKernelMount(t *testing.T) {
	_, c, ws := nfsFixture(t)
	ctx := nfsCtx(t)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "hello.txt", []byte("via the kernel")))
	dir := filepath.Join(t.TempDir(), "mnt")

	ok, why := kernelNFS()
	t.Run("Unsupported", func(t *testing.T) {
		if ok {
			t.Skip("this machine can kernel-mount NFS; the ErrUnsupported path is tested where it cannot")
		}
		_, err := c.NFS.Mount(ctx, ws.ID, dir)
		require.Error(t, err)
		assert.ErrorIs(t, err, workspace.ErrUnsupported)
		assert.True(t, errors.Is(err, errors.ErrUnsupported))
		assert.Contains(t, err.Error(), "NFS.Open", "the error points at the userspace session")
		mounted, err := c.NFS.IsMounted(dir)
		require.NoError(t, err)
		assert.False(t, mounted)
	})
	t.Run("Real", func(t *testing.T) {
		if !ok {
			t.Skipf("no real kernel mount on this machine: %s (the Unsupported subtest checked the error instead)", why)
		}
		mnt, err := c.NFS.Mount(ctx, ws.ID, dir)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.NFS.Unmount(nfsCtx(t), mnt) })
		mounted, err := c.NFS.IsMounted(mnt)
		require.NoError(t, err)
		assert.True(t, mounted)
		got, err := os.ReadFile(filepath.Join(mnt, "hello.txt"))
		require.NoError(t, err)
		assert.Equal(t, "via the kernel", string(got))
		require.NoError(t, os.WriteFile(filepath.Join(mnt, "back.txt"), []byte("through the mount"), 0o644))
		b, err := c.Workspace.ReadFile(ctx, ws.ID, "back.txt")
		require.NoError(t, err)
		assert.True(t, bytes.Equal([]byte("through the mount"), b))
		require.NoError(t, c.NFS.Unmount(ctx, mnt))
		mounted, err = c.NFS.IsMounted(mnt)
		require.NoError(t, err)
		assert.False(t, mounted)
	})
}

// BenchmarkNFSVsFileAPI moves the same 64 MiB file through the reference
// server over NFS (NFS.Open) and through the file API (Download/Upload),
// so the figures can be read side by side.
func BenchmarkNFSVsFileAPI(b *testing.B) {
	const size = 64 << 20
	srv := workspacetest.NewServer(b)
	c := srv.Client()
	ctx := b.Context()
	ws, err := c.Workspace.Create(ctx, nil)
	require.NoError(b, err)
	data := make([]byte, size)
	_, _ = rand.Read(data)
	require.NoError(b, c.Workspace.Upload(ctx, ws.ID, "big.bin", bytes.NewReader(data), nil))
	fsys, err := c.NFS.Open(ctx, ws.ID)
	require.NoError(b, err)
	defer fsys.Close()
	discard := struct{ io.Writer }{io.Discard}
	for _, bufSize := range []int{64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("NFSRead/buf=%dKiB", bufSize>>10), func(b *testing.B) {
			buf := make([]byte, bufSize)
			b.SetBytes(size)
			for b.Loop() {
				f, err := fsys.Open("big.bin")
				require.NoError(b, err)
				n, err := io.CopyBuffer(discard, struct{ io.Reader }{f}, buf)
				require.NoError(b, err)
				require.EqualValues(b, size, n)
				require.NoError(b, f.Close())
			}
		})
		b.Run(fmt.Sprintf("NFSWrite/buf=%dKiB", bufSize>>10), func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				f, err := fsys.Create("out.bin")
				require.NoError(b, err)
				for off := 0; off < size; off += bufSize {
					_, err := f.Write(data[off : off+bufSize])
					require.NoError(b, err)
				}
				require.NoError(b, f.Close())
			}
		})
	}
	b.Run("FileAPIDownload", func(b *testing.B) {
		buf := make([]byte, 1<<20)
		b.SetBytes(size)
		for b.Loop() {
			rc, err := c.Workspace.Download(ctx, ws.ID, "big.bin", nil)
			require.NoError(b, err)
			n, err := io.CopyBuffer(discard, rc, buf)
			require.NoError(b, err)
			require.EqualValues(b, size, n)
			require.NoError(b, rc.Close())
		}
	})
	b.Run("FileAPIUpload", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			require.NoError(b, c.Workspace.Upload(ctx, ws.ID, "out.bin", bytes.NewReader(data), nil))
		}
	})
}
