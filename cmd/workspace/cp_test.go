package main

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeTree writes a small tree with binary files, nested and empty
// directories, and returns its files' contents by relative path.
func makeTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{
		"README.txt":           []byte("hello\n"),
		"empty.bin":            {},
		"src/main.go":          []byte("package main\n"),
		"src/deep/er/data.bin": nil,
		"src/deep/big.bin":     nil,
	}
	files["src/deep/er/data.bin"] = make([]byte, 4096)
	files["src/deep/big.bin"] = make([]byte, 3<<20)
	for _, k := range []string{"src/deep/er/data.bin", "src/deep/big.bin"} {
		for i := range files[k] {
			files[k][i] = byte(rng.IntN(256))
		}
	}
	for rel, data := range files {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	return files
}

// readTree returns the files under root by relative path, and its
// directories.
func readTree(t *testing.T, root string) (map[string][]byte, []string) {
	t.Helper()
	files := map[string][]byte{}
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			dirs = append(dirs, filepath.ToSlash(rel))
			return nil
		}
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}

func TestCpTreeRoundTrip(t *testing.T) {
	srv := newServer(t)
	ws := strings.TrimSpace(ok(t, srv, "create"))
	src := filepath.Join(t.TempDir(), "project")
	want := makeTree(t, src)

	// Into the root: the tree keeps its name, like cp -r.
	r := cli(t, srv, nil, "cp", src, ws+":")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("cp up: exit %d, stderr %q (no progress bar in a pipe)", r.code, r.stderr)
	}
	var listed []fileJSON
	okJSON(t, srv, &listed, "files", "ls", ws+":project/src/deep")
	if len(listed) != 2 || listed[0].Name != "big.bin" || listed[0].Size != 3<<20 || listed[1].Type != "directory" {
		t.Fatalf("files ls -o json: %+v", listed)
	}

	// Back down to a new name, then into an existing directory.
	dst := t.TempDir()
	ok(t, srv, "cp", ws+":project", filepath.Join(dst, "copy"))
	ok(t, srv, "cp", ws+":project", dst)
	for _, got := range []string{filepath.Join(dst, "copy"), filepath.Join(dst, "project")} {
		files, dirs := readTree(t, got)
		if len(files) != len(want) {
			t.Fatalf("%s: %d files, want %d", got, len(files), len(want))
		}
		for rel, data := range want {
			if !bytes.Equal(files[rel], data) {
				t.Fatalf("%s: %s differs (%d bytes, want %d)", got, rel, len(files[rel]), len(data))
			}
		}
		if !strings.Contains(strings.Join(dirs, " "), "empty-dir") {
			t.Fatalf("%s: empty directory lost: %v", got, dirs)
		}
	}

	// A single file both ways, and through stdin and stdout.
	ok(t, srv, "cp", filepath.Join(src, "src", "main.go"), ws+":single.go")
	if out := ok(t, srv, "cp", ws+":single.go", "-"); out != "package main\n" {
		t.Fatalf("cp to stdout: %q", out)
	}
	if r := cli(t, srv, strings.NewReader("from stdin"), "cp", "-", ws+":stdin.txt"); r.code != 0 {
		t.Fatalf("cp from stdin: exit %d, %s", r.code, r.stderr)
	}
	if out := ok(t, srv, "files", "cat", ws+":stdin.txt"); out != "from stdin" {
		t.Fatalf("files cat: %q", out)
	}
	local := filepath.Join(dst, "one.go")
	ok(t, srv, "cp", ws+":single.go", local)
	if data, err := os.ReadFile(local); err != nil || string(data) != "package main\n" {
		t.Fatalf("cp down a file: %q, %v", data, err)
	}

	// Inside the workspace: the server copies.
	ok(t, srv, "cp", ws+":project/README.txt", ws+":project/src")
	if out := ok(t, srv, "files", "cat", ws+":project/src/README.txt"); out != "hello\n" {
		t.Fatalf("remote copy: %q", out)
	}

	fails(t, srv, 1, "code 3001", "cp", ws+":no/such/file", dst)
	fails(t, srv, 2, "WORKSPACE:PATH", "cp", src, dst)
}

func TestFilesCommands(t *testing.T) {
	srv := newServer(t)
	ws := strings.TrimSpace(ok(t, srv, "create"))

	ok(t, srv, "files", "mkdir", ws+":a/b/c", ws+":other")
	if r := cli(t, srv, strings.NewReader("data"), "cp", "-", ws+":a/b/c/f.txt"); r.code != 0 {
		t.Fatalf("cp -: %d %s", r.code, r.stderr)
	}
	table := ok(t, srv, "files", "ls", ws)
	if !strings.Contains(table, "a/") || !strings.Contains(table, "other/") || !strings.HasPrefix(table, "NAME") {
		t.Fatalf("files ls:\n%s", table)
	}
	// mv into an existing directory keeps the name; mv to a new name renames.
	ok(t, srv, "files", "mv", ws+":a/b/c/f.txt", ws+":other")
	ok(t, srv, "files", "mv", ws+":other/f.txt", "other/g.txt")
	if out := ok(t, srv, "files", "cat", ws+":other/g.txt"); out != "data" {
		t.Fatalf("after mv: %q", out)
	}
	fails(t, srv, 2, "inside one workspace", "files", "mv", ws+":other/g.txt", "elsewhere:g.txt")

	fails(t, srv, 1, "code 3006", "files", "rm", ws+":a")
	ok(t, srv, "files", "rm", "-r", ws+":a")
	fails(t, srv, 1, "code 3001", "files", "cat", ws+":a/b/c/f.txt")
	fails(t, srv, 2, "root", "files", "rm", "-r", ws+":/")
	var listed []fileJSON
	okJSON(t, srv, &listed, "files", "ls", ws+":")
	if len(listed) != 1 || listed[0].Name != "other" {
		t.Fatalf("after rm: %+v", listed)
	}
}
