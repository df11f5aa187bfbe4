//go:build !windows

package server

import (
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

func filesURL(ws, route, p string) string {
	return "/api/v1/workspaces/" + ws + "/files" + route + "?path=" + url.QueryEscape(p)
}

func TestFileRoutes(t *testing.T) {
	ts := newTestServer(t, "", nil)
	ws := ts.createWorkspace()

	m := ts.want(ts.do("PUT", filesURL(ws, "", "/src/main.py"), map[string]any{"content": "print(1)\n"}), 200, 0)
	if m["success"] != true || m["path"] != "/src/main.py" {
		t.Fatalf("write response %v", m)
	}
	m = ts.want(ts.do("GET", filesURL(ws, "", "src/main.py"), nil), 200, 0)
	if m["content"] != "print(1)\n" {
		t.Fatalf("read %v", m)
	}
	if _, ok := m["encoding"]; ok {
		t.Fatalf("plain read echoes encoding: %v", m)
	}
	ts.want(ts.do("PUT", filesURL(ws, "", "src/a.txt"), map[string]any{"content": "aa"}), 200, 0)
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/mkdir", map[string]any{"path": "src/sub/deep"}), 200, 0)

	m = ts.want(ts.do("GET", filesURL(ws, "/list", "src"), nil), 200, 0)
	files := m["files"].([]any)
	var names []string
	for _, f := range files {
		fi := f.(map[string]any)
		names = append(names, fi["name"].(string)+":"+fi["type"].(string)+":"+fi["path"].(string))
		if fi["modified_at"] == nil {
			t.Fatalf("no modified_at: %v", fi)
		}
	}
	if got := strings.Join(names, ","); got != "a.txt:file:src/a.txt,main.py:file:src/main.py,sub:directory:src/sub" {
		t.Fatalf("list = %s", got)
	}
	m = ts.want(ts.do("GET", filesURL(ws, "/info", "src/main.py"), nil), 200, 0)
	if m["name"] != "main.py" || m["type"] != "file" || m["size"].(float64) != 9 {
		t.Fatalf("info %v", m)
	}
	ts.want(ts.do("GET", filesURL(ws, "/info", "nope"), nil), 404, wire.CodeFileNotFound)

	m = ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/copy", map[string]any{"source": "src", "destination": "copy/src2"}), 200, 0)
	if m["source"] != "src" || m["destination"] != "copy/src2" {
		t.Fatalf("copy response %v", m)
	}
	m = ts.want(ts.do("GET", filesURL(ws, "", "copy/src2/a.txt"), nil), 200, 0)
	if m["content"] != "aa" {
		t.Fatalf("copied content %v", m)
	}
	ts.want(ts.do("GET", filesURL(ws, "/info", "copy/src2/sub/deep"), nil), 200, 0)
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/copy", map[string]any{"source": "src", "destination": "src/inner"}), 400, wire.CodeInvalidPath)

	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/move", map[string]any{"source": "src/a.txt", "destination": "moved/b.txt"}), 200, 0)
	ts.want(ts.do("GET", filesURL(ws, "", "src/a.txt"), nil), 404, wire.CodeFileNotFound)
	ts.want(ts.do("GET", filesURL(ws, "", "moved/b.txt"), nil), 200, 0)

	// Directories: read is 3005, non-empty delete without recursive 3006.
	ts.want(ts.do("GET", filesURL(ws, "", "src"), nil), 400, wire.CodeNotADirectory)
	ts.want(ts.do("DELETE", filesURL(ws, "", "src")+"&recursive=1", nil), 400, wire.CodeDirectoryNotEmpty)
	ts.want(ts.do("DELETE", filesURL(ws, "", "src")+"&recursive=true", nil), 200, 0)
	ts.want(ts.do("GET", filesURL(ws, "/info", "src"), nil), 404, wire.CodeFileNotFound)
	ts.want(ts.do("DELETE", filesURL(ws, "", "moved/b.txt"), nil), 200, 0)
	ts.want(ts.do("DELETE", filesURL(ws, "", "/"), nil), 400, wire.CodeInvalidPath)
	// Listing a file is 3005; the root lists with "" and "/".
	ts.want(ts.do("GET", filesURL(ws, "/list", "copy/src2/main.py"), nil), 400, wire.CodeNotADirectory)
	m = ts.want(ts.do("GET", filesURL(ws, "/list", "/"), nil), 200, 0)
	if len(m["files"].([]any)) != 2 {
		t.Fatalf("root list %v", m)
	}
	// Writing over a directory is refused; a file in the way of a parent too.
	ts.want(ts.do("PUT", filesURL(ws, "", "copy"), map[string]any{"content": "x"}), 400, wire.CodeNotADirectory)
	ts.want(ts.do("PUT", filesURL(ws, "", "copy/src2/main.py/x"), map[string]any{"content": "x"}), 400, wire.CodeNotADirectory)
	// Unknown workspace.
	ts.want(ts.do("GET", filesURL("nope", "", "a"), nil), 404, wire.CodeWorkspaceNotFound)
	// Missing body field and path.
	ts.want(ts.do("PUT", filesURL(ws, "", "a"), map[string]any{}), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("GET", "/api/v1/workspaces/"+ws+"/files", nil), 400, wire.CodeInvalidParameter)

	// Atomic writes leave no temporary file behind.
	entries, err := os.ReadDir(filepath.Join(ts.wsDir, ws, "copy", "src2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

func TestFileBinary(t *testing.T) {
	ts := newTestServer(t, "", nil)
	ws := ts.createWorkspace()
	data := make([]byte, 256)
	for i := range data {
		data[i] = byte(i)
	}
	enc := base64.StdEncoding.EncodeToString(data)
	ts.want(ts.do("PUT", filesURL(ws, "", "bin"), map[string]any{"content": enc, "encoding": "base64"}), 200, 0)
	got, err := os.ReadFile(filepath.Join(ts.wsDir, ws, "bin"))
	if err != nil || string(got) != string(data) {
		t.Fatalf("on disk %q, %v", got, err)
	}
	m := ts.want(ts.do("GET", filesURL(ws, "", "bin")+"&encoding=base64", nil), 200, 0)
	if m["content"] != enc || m["encoding"] != "base64" {
		t.Fatalf("base64 read %v", m)
	}
	// Plain read of invalid UTF-8 gives U+FFFD.
	os.WriteFile(filepath.Join(ts.wsDir, ws, "bad"), []byte{'a', 0xff, 'b'}, 0o644)
	m = ts.want(ts.do("GET", filesURL(ws, "", "bad"), nil), 200, 0)
	if m["content"] != "a\uFFFDb" {
		t.Fatalf("invalid utf-8 read %q", m["content"])
	}
	ts.want(ts.do("PUT", filesURL(ws, "", "x"), map[string]any{"content": "!!", "encoding": "base64"}), 400, wire.CodeInvalidParameter)
	ts.want(ts.do("GET", filesURL(ws, "", "bin")+"&encoding=rot13", nil), 400, wire.CodeInvalidParameter)
}

func TestFilePathEscapes(t *testing.T) {
	ts := newTestServer(t, "", nil)
	ws := ts.createWorkspace()
	dir := filepath.Join(ts.wsDir, ws)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "abs")))
	must(os.Symlink(outside, filepath.Join(dir, "absdir")))
	rel, _ := filepath.Rel(dir, filepath.Join(outside, "secret"))
	must(os.Symlink(rel, filepath.Join(dir, "rel")))
	must(os.Symlink("..", filepath.Join(dir, "up")))
	must(os.Mkdir(filepath.Join(dir, "d"), 0o755))
	must(os.Symlink("../d", filepath.Join(dir, "d", "inside"))) // stays inside
	must(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))

	for _, p := range []string{"../x", "/../x", "a/../../x", "abs", "absdir/secret", "rel", "up/x", "up/" + filepath.Base(dir) + "/d"} {
		t.Log(p)
		ts.want(ts.do("GET", filesURL(ws, "", p), nil), 403, wire.CodePathNotAllowed)
		ts.want(ts.do("PUT", filesURL(ws, "", p+"/f"), map[string]any{"content": "x"}), 403, wire.CodePathNotAllowed)
		ts.want(ts.do("GET", filesURL(ws, "/list", p), nil), 403, wire.CodePathNotAllowed)
	}
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/copy", map[string]any{"source": "abs", "destination": "stolen"}), 403, wire.CodePathNotAllowed)
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/move", map[string]any{"source": "d", "destination": "../moved"}), 403, wire.CodePathNotAllowed)
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/mkdir", map[string]any{"path": "absdir/new"}), 403, wire.CodePathNotAllowed)
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Fatal("mkdir followed an escaping symlink")
	}
	// Writing to an escaping symlink itself replaces the link, never the target.
	ts.want(ts.do("PUT", filesURL(ws, "", "abs"), map[string]any{"content": "x"}), 200, 0)
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
		t.Fatalf("write followed a symlink out: %q", b)
	}
	// A symlink inside the workspace is followed; info shows the link.
	ts.want(ts.do("GET", filesURL(ws, "/list", "d/inside"), nil), 200, 0)
	if m := ts.want(ts.do("GET", filesURL(ws, "/info", "d/inside"), nil), 200, 0); m["type"] != "symlink" {
		t.Fatalf("info of symlink %v", m)
	}
	// A FIFO is refused at once (a blocking open would hang here).
	ts.want(ts.do("GET", filesURL(ws, "", "fifo"), nil), 403, wire.CodePermissionDenied)
	ts.want(ts.do("POST", "/api/v1/workspaces/"+ws+"/files/copy", map[string]any{"source": "fifo", "destination": "f2"}), 403, wire.CodePermissionDenied)
	ts.want(ts.do("GET", filesURL(ws, "", "a\x00b"), nil), 400, wire.CodeInvalidPath)
}
