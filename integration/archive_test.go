package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/tartest"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// makeTree writes a test tree under dir: nested directories, an empty
// one, files of several modes, and (withLinks) symlinks.
func makeTree(t *testing.T, dir string, withLinks bool) {
	t.Helper()
	files := map[string]string{
		"README.md":            "# project\n",
		"src/main.go":          "package main\n\nfunc main() {}\n",
		"src/pkg/util/util.go": "package util\n",
		"bin/run.sh":           "#!/bin/sh\necho run\n",
		"data/big.txt":         strings.Repeat("0123456789\n", 30000),
		"data/empty":           "",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "bin/run.sh"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "src/main.go"), 0o600))
	if withLinks {
		require.NoError(t, os.Symlink("src/main.go", filepath.Join(dir, "main-link")))
		require.NoError(t, os.Symlink("../README.md", filepath.Join(dir, "src/readme-link")))
	}
}

// treeOf describes a local tree: path -> "d <perm>", "f <perm> <content>"
// or "l <target>" (perm left out when !modes).
func treeOf(t *testing.T, dir string, modes bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		fi, err := d.Info()
		require.NoError(t, err)
		perm := ""
		if modes {
			perm = fmt.Sprintf(" %o", fi.Mode().Perm())
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			require.NoError(t, err)
			out[filepath.ToSlash(rel)] = "l " + l
		case d.IsDir():
			out[filepath.ToSlash(rel)] = "d" + perm
		default:
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			out[filepath.ToSlash(rel)] = "f" + perm + " " + string(b)
		}
		return nil
	}))
	return out
}

func TestIntegrationArchiveRoundTrip(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := ctxFor(t)
	ws, sb := newSandbox(t, c, nil)

	src := t.TempDir()
	makeTree(t, src, true)
	var calls int
	var done, total int64
	require.NoError(t, c.Workspace.UploadDir(ctx, ws.ID, src, "proj", &workspace.TransferOptions{
		Progress: func(d, tt int64) { calls++; done, total = d, tt },
	}))
	assert.Greater(t, calls, 1)
	assert.Equal(t, total, done)
	assert.EqualValues(t, 330000+len("# project\n")+len("package main\n\nfunc main() {}\n")+len("package util\n")+len("#!/bin/sh\necho run\n"), total)

	// The sandbox sees the tree: modes, links, contents.
	res, err := c.Process.Shell(ctx, sb.ID, "cd /workspace/proj && stat -c '%a %F %n' bin/run.sh src/main.go main-link empty-dir && readlink src/readme-link && ./bin/run.sh && cat main-link", nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.ExitCode, res.Stderr)
	assert.Equal(t, "755 regular file bin/run.sh\n600 regular file src/main.go\n777 symbolic link main-link\n755 directory empty-dir\n../README.md\nrun\npackage main\n\nfunc main() {}\n", res.Stdout)

	// Back down: the same tree.
	dst := t.TempDir()
	calls = 0
	require.NoError(t, c.Workspace.DownloadDir(ctx, ws.ID, "proj", dst, &workspace.TransferOptions{
		Progress: func(d, tt int64) { calls++; done, total = d, tt },
	}))
	assert.Greater(t, calls, 1)
	assert.EqualValues(t, -1, total)
	assert.Equal(t, treeOf(t, src, true), treeOf(t, dst, true))

	// Again over an existing tree: files are replaced.
	require.NoError(t, os.WriteFile(filepath.Join(src, "README.md"), []byte("v2\n"), 0o644))
	require.NoError(t, c.Workspace.UploadDir(ctx, ws.ID, src, "proj", nil))
	b, err := c.Workspace.ReadFile(ctx, ws.ID, "proj/README.md")
	require.NoError(t, err)
	assert.Equal(t, "v2\n", string(b))
	require.NoError(t, c.Workspace.DownloadDir(ctx, ws.ID, "proj", dst, nil))
	assert.Equal(t, treeOf(t, src, true), treeOf(t, dst, true))

	// A single file, and a gzipped tar straight from the route.
	var buf bytes.Buffer
	require.NoError(t, c.Workspace.DownloadArchive(ctx, ws.ID, "proj/src/main.go", &buf))
	names := tarNames(t, &buf)
	assert.Equal(t, []string{"main.go"}, names)
	resp, err := http.Get(srv.URL + "/api/v1/workspaces/" + ws.ID + "/files/archive?path=proj/src&format=tar.gz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, []string{"main.go", "pkg/", "pkg/util/", "pkg/util/util.go", "readme-link"}, tarNames(t, zr))

	// UploadArchive of a gzipped tar; errors of the route.
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	zw.Write(tarOf(t, tarEntry{name: "z/hello.txt", typ: tar.TypeReg, body: "hi"}))
	zw.Close()
	require.NoError(t, c.Workspace.UploadArchive(ctx, ws.ID, "gz", &tgz))
	b, err = c.Workspace.ReadFile(ctx, ws.ID, "gz/z/hello.txt")
	require.NoError(t, err)
	assert.Equal(t, "hi", string(b))
	err = c.Workspace.DownloadArchive(ctx, ws.ID, "missing", io.Discard)
	require.ErrorIs(t, err, workspace.ErrFileNotFound)
	err = c.Workspace.UploadArchive(ctx, ws.ID, "proj/README.md", bytes.NewReader(tarOf(t, tarEntry{name: "x", typ: tar.TypeReg})))
	require.ErrorIs(t, err, workspace.ErrNotADirectory)
	err = c.Workspace.UploadArchive(ctx, ws.ID, "bad", strings.NewReader(strings.Repeat("not a tar", 100)))
	var apiErr *workspace.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
}

func tarNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		require.NoError(t, err)
		names = append(names, h.Name)
	}
}

type tarEntry struct {
	name, link string
	typ        byte
	body       string
}

func tarOf(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644, ModTime: time.Now()}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		require.NoError(t, tw.WriteHeader(h))
		tw.Write([]byte(e.body))
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

// TestIntegrationArchiveHostile: every hostile archive is refused
// 403/7003 and nothing of it stays visible, even its good entries.
func TestIntegrationArchiveHostile(t *testing.T) {
	c, ws, sb := sandboxFixture(t, nil)
	ctx := ctxFor(t)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "keep/existing.txt", []byte("old")))

	good := []tarEntry{{name: "good/", typ: tar.TypeDir}, {name: "good/a.txt", typ: tar.TypeReg, body: "a"}, {name: "existing.txt", typ: tar.TypeReg, body: "new"}}
	hostile := map[string][]byte{
		"dotdot":            tarOf(t, append(good, tarEntry{name: "../../evil", typ: tar.TypeReg, body: "x"})...),
		"absolute":          tarOf(t, append(good, tarEntry{name: "/tmp/evil", typ: tar.TypeReg, body: "x"})...),
		"symlink-then-file": tarOf(t, append(good, tarEntry{name: "l", link: "/etc", typ: tar.TypeSymlink}, tarEntry{name: "l/evil", typ: tar.TypeReg, body: "x"})...),
		"hardlink-out":      tarOf(t, append(good, tarEntry{name: "h", link: "../../workspace.db", typ: tar.TypeLink})...),
		"device":            tarOf(t, append(good, tarEntry{name: "null", typ: tar.TypeChar})...),
		"fifo":              tarOf(t, append(good, tarEntry{name: "fifo", typ: tar.TypeFifo})...),
		"huge-name":         tarOf(t, append(good, tarEntry{name: strings.Repeat("d/", 2100) + "f", typ: tar.TypeReg, body: "x"})...),
		"huge-header":       tartest.HugePAX(),
	}
	for name, data := range hostile {
		for _, dest := range []string{"keep", "new-dir"} {
			t.Run(name+"/"+dest, func(t *testing.T) {
				err := c.Workspace.UploadArchive(ctx, ws.ID, dest, bytes.NewReader(data))
				require.ErrorIs(t, err, workspace.ErrPathNotAllowed)
				var apiErr *workspace.Error
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, http.StatusForbidden, apiErr.StatusCode)
				assert.EqualValues(t, 7003, apiErr.Code)
			})
		}
	}
	// Nothing of any of them is visible, from the API or the sandbox.
	res, err := c.Process.Shell(ctx, sb.ID, "cd /workspace && find . | sort && cat keep/existing.txt", nil)
	require.NoError(t, err)
	assert.Equal(t, ".\n./keep\n./keep/existing.txt\nold", res.Stdout)
}

// TestIntegrationDirFileByFile: UploadDir and DownloadDir on a server
// without files.archive go file by file (no symlinks, no modes).
func TestIntegrationDirFileByFile(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithBaseMode())
	c := srv.Client()
	ctx := ctxFor(t)
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "dirs"})
	require.NoError(t, err)

	src := t.TempDir()
	makeTree(t, src, false)
	var done, total int64
	require.NoError(t, c.Workspace.UploadDir(ctx, ws.ID, src, "proj", &workspace.TransferOptions{Progress: func(d, tt int64) { done, total = d, tt }}))
	assert.Equal(t, total, done)
	assert.Greater(t, total, int64(330000))
	dst := t.TempDir()
	done, total = 0, 0
	require.NoError(t, c.Workspace.DownloadDir(ctx, ws.ID, "proj", dst, &workspace.TransferOptions{Progress: func(d, tt int64) { done, total = d, tt }}))
	assert.Equal(t, total, done)
	assert.Equal(t, treeOf(t, src, false), treeOf(t, dst, false))

	err = c.Workspace.UploadArchive(ctx, ws.ID, "x", bytes.NewReader(nil))
	require.ErrorIs(t, err, workspace.ErrUnsupported)
	err = c.Workspace.DownloadArchive(ctx, ws.ID, "x", io.Discard)
	require.ErrorIs(t, err, workspace.ErrUnsupported)
}
