package tarfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/tartest"
)

// entry describes one tar entry of a test archive.
type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: mode, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sandboxRoot returns an os.Root on dir/in, and dir/out, a sibling that
// must stay empty whatever is extracted.
func sandboxRoot(t testing.TB) (root *os.Root, in, out string) {
	t.Helper()
	dir := t.TempDir()
	in, out = filepath.Join(dir, "in"), filepath.Join(dir, "out")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root, err := os.OpenRoot(in)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return root, in, out
}

func requireEmpty(t testing.TB, dir string) {
	t.Helper()
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 0 {
		t.Fatalf("%s is not empty: %v", dir, names)
	}
}

func TestRoundTrip(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks and modes need a unix file system")
	}
	src := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "a/b/c"), 0o755))
	must(os.WriteFile(filepath.Join(src, "a/b/c/deep.txt"), []byte("deep"), 0o600))
	must(os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(filepath.Join(src, "empty"), nil, 0o644))
	must(os.Symlink("a/b/c/deep.txt", filepath.Join(src, "link")))
	must(os.Symlink("/etc/passwd", filepath.Join(src, "abs-link")))
	must(os.Chmod(filepath.Join(src, "a/b"), 0o750))
	sroot, err := os.OpenRoot(src)
	must(err)
	defer sroot.Close()

	var buf bytes.Buffer
	var files int
	must(WriteTree(&buf, sroot, ".", &WriteOptions{OnFile: func(int64) { files++ }}))
	if files != 3 {
		t.Fatalf("OnFile called %d times", files)
	}
	for _, gz := range []bool{false, true} {
		data := buf.Bytes()
		if gz {
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(data)
			zw.Close()
			data = z.Bytes()
		}
		root, in, out := sandboxRoot(t)
		st, err := Extract(root, ".", bytes.NewReader(data), nil)
		must(err)
		if st.Files != 3 || st.Links != 2 || st.Dirs != 3 {
			t.Fatalf("stats %+v", st)
		}
		b, err := os.ReadFile(filepath.Join(in, "a/b/c/deep.txt"))
		must(err)
		if string(b) != "deep" {
			t.Fatalf("deep.txt = %q", b)
		}
		for name, want := range map[string]fs.FileMode{"run.sh": 0o755, "a/b/c/deep.txt": 0o600, "a/b": 0o750 | fs.ModeDir} {
			fi, err := os.Lstat(filepath.Join(in, name))
			must(err)
			if fi.Mode() != want {
				t.Errorf("%s mode %v, want %v", name, fi.Mode(), want)
			}
		}
		for name, want := range map[string]string{"link": "a/b/c/deep.txt", "abs-link": "/etc/passwd"} {
			l, err := os.Readlink(filepath.Join(in, name))
			must(err)
			if l != want {
				t.Errorf("%s -> %q, want %q", name, l, want)
			}
		}
		requireEmpty(t, out)
	}

	// A single file.
	buf.Reset()
	must(WriteTree(&buf, sroot, "a/b/c/deep.txt", nil))
	root, in, _ := sandboxRoot(t)
	_, err = Extract(root, ".", &buf, nil)
	must(err)
	if b, _ := os.ReadFile(filepath.Join(in, "deep.txt")); string(b) != "deep" {
		t.Fatalf("single file: %q", b)
	}
}

// TestWriteTreeSkipsSpecial: FIFOs are left out, not blocked on.
func TestWriteTreeSkipsSpecial(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644)
	if err := mkfifo(filepath.Join(src, "fifo")); err != nil {
		t.Fatal(err)
	}
	r, _ := os.OpenRoot(src)
	defer r.Close()
	var buf bytes.Buffer
	if err := WriteTree(&buf, r, ".", nil); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(&buf)
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "f" {
		t.Fatalf("entries %v", names)
	}

	// Skip leaves out a name and everything under a directory.
	os.MkdirAll(filepath.Join(src, "skipped/sub"), 0o755)
	os.WriteFile(filepath.Join(src, "skipped/sub/x"), []byte("x"), 0o644)
	buf.Reset()
	if err := WriteTree(&buf, r, ".", &WriteOptions{Skip: func(p string) bool { return p == "skipped" || p == "f" }}); err != nil {
		t.Fatal(err)
	}
	if h, err := tar.NewReader(&buf).Next(); err == nil {
		t.Fatalf("skipped entry %q written", h.Name)
	}
}

// hostile are archives Extract must refuse with ErrUnsafe.
func hostile(t testing.TB) map[string][]byte {
	huge := makeTar(t, entry{name: strings.Repeat("x/", 3000) + "f", typ: tar.TypeReg, body: "x"})
	return map[string][]byte{
		"dotdot":       makeTar(t, entry{name: "../evil", typ: tar.TypeReg, body: "x"}),
		"dotdot-inner": makeTar(t, entry{name: "a/../../evil", typ: tar.TypeReg, body: "x"}),
		"absolute":     makeTar(t, entry{name: "/tmp/evil", typ: tar.TypeReg, body: "x"}),
		"symlink-then-file": makeTar(t,
			entry{name: "l", link: "../out", typ: tar.TypeSymlink},
			entry{name: "l/evil", typ: tar.TypeReg, body: "x"}),
		"symlink-inside-then-file": makeTar(t,
			entry{name: "d", typ: tar.TypeDir, mode: 0o755},
			entry{name: "l", link: "d", typ: tar.TypeSymlink},
			entry{name: "l/evil", typ: tar.TypeReg, body: "x"}),
		"hardlink-out":     makeTar(t, entry{name: "h", link: "../out/x", typ: tar.TypeLink}),
		"hardlink-abs":     makeTar(t, entry{name: "h", link: "/etc/passwd", typ: tar.TypeLink}),
		"hardlink-missing": makeTar(t, entry{name: "h", link: "nothing", typ: tar.TypeLink}),
		"char-device":      makeTar(t, entry{name: "ok", typ: tar.TypeReg, body: "x"}, entry{name: "null", typ: tar.TypeChar}),
		"block-device":     makeTar(t, entry{name: "sda", typ: tar.TypeBlock}),
		"fifo":             makeTar(t, entry{name: "fifo", typ: tar.TypeFifo}),
		"huge-name":        huge,
		"huge-pax-header":  tartest.HugePAX(), // a 2 MiB PAX extended header
	}
}

func TestExtractRefusesHostile(t *testing.T) {
	for name, data := range hostile(t) {
		t.Run(name, func(t *testing.T) {
			root, _, out := sandboxRoot(t)
			_, err := Extract(root, ".", bytes.NewReader(data), nil)
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("err = %v, want ErrUnsafe", err)
			}
			requireEmpty(t, out)
		})
	}
}

func TestExtractBadArchive(t *testing.T) {
	root, _, _ := sandboxRoot(t)
	_, err := Extract(root, ".", strings.NewReader(strings.Repeat("not a tar ", 100)), nil)
	if !errors.Is(err, ErrBadArchive) {
		t.Fatalf("err = %v", err)
	}
	_, err = Extract(root, ".", bytes.NewReader([]byte{0x1f, 0x8b, 1, 2, 3}), nil)
	if !errors.Is(err, ErrBadArchive) {
		t.Fatalf("gzip err = %v", err)
	}
	full := makeTar(t, entry{name: "f", typ: tar.TypeReg, body: strings.Repeat("y", 2000)})
	_, err = Extract(root, ".", bytes.NewReader(full[:1000]), nil)
	if !errors.Is(err, ErrBadArchive) {
		t.Fatalf("truncated err = %v", err)
	}
}

// TestExtractOverwrite: existing files and symlinks are replaced, never
// written through.
func TestExtractOverwrite(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks")
	}
	root, in, out := sandboxRoot(t)
	os.WriteFile(filepath.Join(out, "target"), []byte("keep"), 0o644)
	os.Symlink(filepath.Join(out, "target"), filepath.Join(in, "f"))
	data := makeTar(t, entry{name: "f", typ: tar.TypeReg, body: "new"})
	if _, err := Extract(root, ".", bytes.NewReader(data), nil); err == nil {
		t.Fatal("existing name without Overwrite accepted")
	}
	if _, err := Extract(root, ".", bytes.NewReader(data), &ExtractOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "target")); string(b) != "keep" {
		t.Fatalf("written through the symlink: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(in, "f")); string(b) != "new" {
		t.Fatalf("f = %q", b)
	}
}

// FuzzExtract feeds arbitrary bytes (seeded with hostile archives) to
// Extract: it never panics, never creates anything outside its
// directory, and never leaves a symlink that an entry was written
// through.
func FuzzExtract(f *testing.F) {
	f.Add(makeTar(f, entry{name: "a/b", typ: tar.TypeReg, body: "x"}, entry{name: "l", link: "a", typ: tar.TypeSymlink}))
	for _, name := range []string{"dotdot", "symlink-then-file", "hardlink-out", "fifo"} {
		f.Add(hostile(f)[name])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, _, out := sandboxRoot(t)
		Extract(root, ".", bytes.NewReader(data), nil) //nolint:errcheck // any outcome but an escape is fine
		requireEmpty(t, out)
	})
}
