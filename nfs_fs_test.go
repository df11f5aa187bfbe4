package workspace

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"testing/iotest"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/nfsserver"
)

// nfsTestServer serves workspace "ws-1" (a temp dir) over NFS in-process.
type nfsTestServer struct {
	dir  string
	addr string
}

func startNFS(t testing.TB) *nfsTestServer { return startNFSWith(t, nfsserver.Config{}) }

// startNFSWith is startNFS with a server configuration (Resolve and Logger
// are set here).
func startNFSWith(t testing.TB, cfg nfsserver.Config) *nfsTestServer {
	t.Helper()
	dir := t.TempDir()
	cfg.Resolve = func(id string) (string, bool) { return dir, id == "ws-1" }
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv := nfsserver.New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	return &nfsTestServer{dir: dir, addr: l.Addr().String()}
}

func openTestNFS(t testing.TB, s *nfsTestServer) *NFSFileSystem {
	t.Helper()
	fsys, err := openNFS(context.Background(), s.addr, "/ws-1", NFSOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, fsys.Close()) })
	return fsys
}

func TestNFSFSTestFS(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	files := map[string]string{
		"hello.txt":          "hello, world\n",
		"empty":              "",
		"dir/a.txt":          "a",
		"dir/b.bin":          "\x00\x01\x02\xff",
		"dir/sub/deep.txt":   strings.Repeat("deep ", 1000),
		"dir/sub/more/z.txt": "z",
		"with space.txt":     "spaces ok",
	}
	for name, content := range files {
		p := filepath.Join(s.dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(s.dir, "emptydir"), 0o755))
	fsys := openTestNFS(t, s)
	require.NoError(t, fstest.TestFS(fsys, "hello.txt", "empty", "dir/a.txt", "dir/b.bin", "dir/sub/deep.txt", "dir/sub/more/z.txt", "with space.txt", "emptydir"))
	b, err := fsys.ReadFile("dir/sub/deep.txt")
	require.NoError(t, err)
	require.Equal(t, files["dir/sub/deep.txt"], string(b))
}

func TestNFSWriteOps(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys := openTestNFS(t, s)

	require.NoError(t, fsys.MkdirAll("a/b/c", 0o755))
	require.NoError(t, fsys.MkdirAll("a/b/c", 0o755), "existing dirs are fine")
	st, err := os.Stat(filepath.Join(s.dir, "a", "b", "c"))
	require.NoError(t, err)
	require.True(t, st.IsDir())

	require.NoError(t, fsys.WriteFile("a/b/c/f.txt", []byte("first"), 0o640))
	require.NoError(t, fsys.WriteFile("a/b/c/f.txt", []byte("2nd"), 0o640), "WriteFile truncates")
	host, err := os.ReadFile(filepath.Join(s.dir, "a", "b", "c", "f.txt"))
	require.NoError(t, err)
	require.Equal(t, "2nd", string(host))
	err = fsys.MkdirAll("a/b/c/f.txt/x", 0o755)
	require.Error(t, err)

	// OpenFile flags.
	_, err = fsys.OpenFile("a/b/c/f.txt", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	require.ErrorIs(t, err, fs.ErrExist)
	var pe *fs.PathError
	require.ErrorAs(t, err, &pe)
	_, err = fsys.OpenFile("nope/x", os.O_RDWR|os.O_CREATE, 0o644)
	require.ErrorIs(t, err, fs.ErrNotExist)
	f, err := fsys.OpenFile("a/b/c/f.txt", os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write([]byte("+more"))
	require.NoError(t, err)
	_, err = f.Read(make([]byte, 1))
	require.ErrorIs(t, err, fs.ErrPermission, "write-only")
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.Close(), fs.ErrClosed)
	host, _ = os.ReadFile(filepath.Join(s.dir, "a", "b", "c", "f.txt"))
	require.Equal(t, "2nd+more", string(host))

	// Create, Seek, ReadAt, Stat.
	c, err := fsys.Create("new.txt")
	require.NoError(t, err)
	_, err = io.WriteString(c, "0123456789")
	require.NoError(t, err)
	off, err := c.Seek(-4, io.SeekEnd)
	require.NoError(t, err)
	require.EqualValues(t, 6, off)
	_, err = c.Write([]byte("XY"))
	require.NoError(t, err)
	_, err = c.Seek(0, io.SeekStart)
	require.NoError(t, err)
	all, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Equal(t, "012345XY89", string(all))
	buf := make([]byte, 4)
	n, err := c.ReadAt(buf, 8)
	require.Equal(t, 2, n)
	require.ErrorIs(t, err, io.EOF)
	info, err := c.Stat()
	require.NoError(t, err)
	require.EqualValues(t, 10, info.Size())
	require.Equal(t, "new.txt", info.Name())
	require.NoError(t, c.Close())
	_, err = fsys.Open("a/b")
	require.NoError(t, err)
	_, err = fsys.OpenFile("a/b", os.O_RDWR, 0)
	require.Error(t, err)

	// Rename, Remove, RemoveAll.
	require.NoError(t, fsys.Rename("new.txt", "a/renamed.txt"))
	_, err = fsys.Stat("new.txt")
	require.ErrorIs(t, err, fs.ErrNotExist)
	b, err := fsys.ReadFile("a/renamed.txt")
	require.NoError(t, err)
	require.Equal(t, "012345XY89", string(b))
	require.Error(t, fsys.Remove("a/b"), "non-empty dir")
	require.NoError(t, fsys.Remove("a/renamed.txt"))
	require.ErrorIs(t, fsys.Remove("a/renamed.txt"), fs.ErrNotExist)
	require.NoError(t, fsys.RemoveAll("a"))
	require.NoError(t, fsys.RemoveAll("a"), "missing is fine")
	_, err = os.Stat(filepath.Join(s.dir, "a"))
	require.ErrorIs(t, err, os.ErrNotExist)
	ents, err := fsys.ReadDir(".")
	require.NoError(t, err)
	require.Empty(t, ents)

	// Invalid names never reach the server.
	for _, name := range []string{"/abs", "../up", "a//b", "a/", "", "a/./b"} {
		_, err := fsys.Stat(name)
		require.ErrorIs(t, err, fs.ErrInvalid, name)
		require.ErrorIs(t, fsys.WriteFile(name, nil, 0o644), fs.ErrInvalid, name)
	}
	require.ErrorIs(t, fsys.RemoveAll("."), fs.ErrInvalid)
}

func TestNFSSymlinkToEtc(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	require.NoError(t, os.Symlink("/etc", filepath.Join(s.dir, "etc")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(s.dir, "passwd")))
	fsys := openTestNFS(t, s)
	info, err := fsys.Stat("etc")
	require.NoError(t, err)
	require.Equal(t, fs.ModeSymlink, info.Mode().Type())
	_, err = fsys.Stat("etc/passwd")
	require.Error(t, err)
	_, err = fsys.ReadDir("etc")
	require.Error(t, err)
	_, err = fsys.ReadFile("passwd")
	require.Error(t, err)
	require.Error(t, fsys.WriteFile("etc/evil", []byte("x"), 0o644))
	_, err = os.Stat("/etc/evil")
	require.ErrorIs(t, err, os.ErrNotExist)
}

func sum(b []byte) [32]byte { return sha256.Sum256(b) }

func TestNFSRoundTrip(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys := openTestNFS(t, s)
	for _, size := range []int{1 << 20, 100 << 20} {
		t.Run(fmt.Sprintf("%dMiB", size>>20), func(t *testing.T) {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			name := fmt.Sprintf("big-%d.bin", size)
			require.NoError(t, fsys.WriteFile(name, data, 0o644))
			host, err := os.ReadFile(filepath.Join(s.dir, name))
			require.NoError(t, err)
			require.Equal(t, sum(data), sum(host), "written over NFS, read on the host")
			got, err := fsys.ReadFile(name)
			require.NoError(t, err)
			require.Equal(t, sum(data), sum(got), "read back over NFS")
			// Streaming through Open with an odd buffer size.
			f, err := fsys.Open(name)
			require.NoError(t, err)
			h := sha256.New()
			_, err = io.CopyBuffer(h, struct{ io.Reader }{f}, make([]byte, 300_000))
			require.NoError(t, err)
			require.Equal(t, sum(data), [32]byte(h.Sum(nil)))
			require.NoError(t, f.Close())
			require.NoError(t, fsys.Remove(name))
		})
	}
}

func TestNFSConcurrentUse(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys := openTestNFS(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%d.txt", i)
			want := bytes.Repeat([]byte{byte('a' + i)}, 200_000+i)
			if err := fsys.WriteFile(name, want, 0o644); err != nil {
				errs <- err
				return
			}
			got, err := fsys.ReadFile(name)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("%s: content mismatch", name)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func TestNFSClosedSession(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys, err := openNFS(context.Background(), s.addr, "/ws-1", NFSOptions{})
	require.NoError(t, err)
	require.NoError(t, fsys.Close())
	require.NoError(t, fsys.Close(), "idempotent")
	_, err = fsys.Stat(".")
	require.Error(t, err)
	_, err = openNFS(context.Background(), s.addr, "/unknown", NFSOptions{})
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestParseNFSURL(t *testing.T) {
	ep, err := parseNFSURL("nfs://10.1.2.3:40000/ws-1", "", 0)
	require.NoError(t, err)
	require.Equal(t, nfsEndpoint{host: "10.1.2.3", port: 40000, export: "/ws-1"}, ep)
	ep, err = parseNFSURL("nfs://nfs.local/ws-2", "", 0)
	require.NoError(t, err)
	require.Equal(t, nfsEndpoint{host: "nfs.local", port: 2049, export: "/ws-2"}, ep)
	ep, err = parseNFSURL("nfs://10.1.2.3:40000/ws-1", "192.168.1.100", 2050)
	require.NoError(t, err)
	require.Equal(t, nfsEndpoint{host: "192.168.1.100", port: 2050, export: "/ws-1"}, ep)
	require.Equal(t, "192.168.1.100:2050", ep.addr())
	ep, err = parseNFSURL("nfs://[::1]:7/ws-3", "", 0)
	require.NoError(t, err)
	require.Equal(t, "[::1]:7", ep.addr())
	for _, bad := range []string{"http://h/ws", "nfs://h:1", "nfs:///ws", "nfs://h:x/ws", "::"} {
		_, err := parseNFSURL(bad, "", 0)
		require.Error(t, err, bad)
	}
}

// TestNFSOpenThroughClient resolves the export from Workspace.Get and
// applies WithNFS.
func TestNFSOpenThroughClient(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "x.txt"), []byte("via client"), 0o644))
	host, port, err := net.SplitHostPort(s.addr)
	require.NoError(t, err)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/workspaces/ws-1") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"code": 7001, "message": "Workspace not found"}`)
			return
		}
		// The advertised host and port are wrong on purpose: WithNFS fixes them.
		_, _ = io.WriteString(w, `{"id":"ws-1","name":null,"nfs_url":"nfs://192.0.2.1:1/ws-1","metadata":{},"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`)
	}))
	defer api.Close()
	var p int
	_, err = fmt.Sscan(port, &p)
	require.NoError(t, err)
	c, err := NewClient(api.URL+"/api/v1", WithNFS(host, p))
	require.NoError(t, err)
	defer c.Close()
	fsys, err := c.NFS.Open(context.Background(), "ws-1")
	require.NoError(t, err)
	b, err := fsys.ReadFile("x.txt")
	require.NoError(t, err)
	require.Equal(t, "via client", string(b))
	require.NoError(t, fsys.Close())
	_, err = c.NFS.Open(context.Background(), "ws-404")
	require.Error(t, err)
}

func TestNFSKernelMountUnsupported(t *testing.T) {
	err := kernelMountSupported()
	if err == nil {
		t.Skip("this machine can kernel-mount NFS (root + nfs in /proc/filesystems); the unsupported path is not reachable here")
	}
	require.ErrorIs(t, err, ErrUnsupported)
	require.True(t, errors.Is(err, errors.ErrUnsupported))
	c, cerr := NewClient("http://127.0.0.1:1/api/v1")
	require.NoError(t, cerr)
	defer c.Close()
	_, err = c.NFS.Mount(context.Background(), "ws-1", t.TempDir())
	require.ErrorIs(t, err, ErrUnsupported, "checked before any request")
	t.Log(err)
}

// TestNFSReadAhead reads through the read-ahead window with small and
// odd buffers, seeks inside and outside it, and sees a file grow.
func TestNFSReadAhead(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	data := make([]byte, 5<<20+12345)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "big.bin"), data, 0o644))
	fsys := openTestNFS(t, s)

	// iotest.TestReader reads byte by byte with ReadAt: a small file.
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "small.bin"), data[:3000], 0o644))
	f, err := fsys.Open("small.bin")
	require.NoError(t, err)
	require.NoError(t, iotest.TestReader(f, data[:3000]))
	require.NoError(t, f.Close())

	for _, bufSize := range []int{4093, 8 << 10, 1 << 20, 3<<20 + 1, 8 << 20} {
		f, err := fsys.Open("big.bin")
		require.NoError(t, err)
		var got bytes.Buffer
		n, err := io.CopyBuffer(struct{ io.Writer }{&got}, struct{ io.Reader }{f}, make([]byte, bufSize))
		require.NoError(t, err)
		require.EqualValues(t, len(data), n)
		require.True(t, bytes.Equal(data, got.Bytes()), "buf %d", bufSize)
		require.NoError(t, f.Close())
	}

	// Seek back and forth while the window is full.
	nf, err := fsys.OpenFile("big.bin", os.O_RDWR, 0)
	require.NoError(t, err)
	buf := make([]byte, 100)
	_, err = io.ReadFull(nf, buf)
	require.NoError(t, err)
	for _, off := range []int64{3<<20 + 7, 10, 5 << 20, 1<<20 - 50} {
		_, err = nf.Seek(off, io.SeekStart)
		require.NoError(t, err)
		_, err = io.ReadFull(nf, buf)
		require.NoError(t, err)
		require.Equal(t, data[off:off+100], buf, "at %d", off)
	}
	// A write drops the window: reading on sees the new bytes.
	_, err = nf.Seek(2<<20, io.SeekStart)
	require.NoError(t, err)
	_, err = nf.Write([]byte("NEW!"))
	require.NoError(t, err)
	_, err = nf.Seek(2<<20-2, io.SeekStart)
	require.NoError(t, err)
	_, err = io.ReadFull(nf, buf[:8])
	require.NoError(t, err)
	require.Equal(t, append(append([]byte{}, data[2<<20-2:2<<20]...), "NEW!"+string(data[2<<20+4:2<<20+6])...), buf[:8])

	// At the end, Read says io.EOF; once the file grows it reads on.
	_, err = nf.Seek(0, io.SeekEnd)
	require.NoError(t, err)
	_, err = nf.Read(buf)
	require.ErrorIs(t, err, io.EOF)
	fh, err := os.OpenFile(filepath.Join(s.dir, "big.bin"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = fh.WriteString("grown")
	require.NoError(t, err)
	require.NoError(t, fh.Close())
	got, err := io.ReadAll(nf)
	require.NoError(t, err)
	require.Equal(t, "grown", string(got))
	require.NoError(t, nf.Close())
}

// TestNFSFSTestFSBigFile runs fstest.TestFS over a 3 MiB file: iotest
// reads it one byte at a time at many offsets, which the session's cache
// serves (it took about ten minutes without one).
func TestNFSFSTestFSBigFile(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(s.dir, "big.bin"), data, 0o644))
	fsys := openTestNFS(t, s)
	require.NoError(t, fstest.TestFS(fsys, "big.bin"))
}

// TestNFSErrorsReadLikeOS: status errors read like the os package's and
// match the io/fs sentinels; a closed session's errors match fs.ErrClosed.
func TestNFSErrorsReadLikeOS(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys := openTestNFS(t, s)
	_, err := fsys.Stat("missing")
	require.EqualError(t, err, "stat missing: no such file or directory")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.NoError(t, fsys.Mkdir("d", 0o755))
	require.NoError(t, fsys.WriteFile("d/f", []byte("x"), 0o644))
	err = fsys.Mkdir("d", 0o755)
	require.EqualError(t, err, "mkdir d: file exists")
	require.ErrorIs(t, err, fs.ErrExist)

	f, err := fsys.Open("d/f")
	require.NoError(t, err)
	require.NoError(t, fsys.Close())
	_, err = fsys.Stat("d/f")
	require.ErrorIs(t, err, fs.ErrClosed)
	_, err = f.(io.ReaderAt).ReadAt(make([]byte, 1), 0)
	require.ErrorIs(t, err, fs.ErrClosed)
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.Close(), fs.ErrClosed)
}

// TestNFSFileSync: Sync commits, and the bytes are in the file.
func TestNFSFileSync(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	s := startNFS(t)
	fsys := openTestNFS(t, s)
	f, err := fsys.Create("s.bin")
	require.NoError(t, err)
	data := make([]byte, 3<<20+1)
	_, _ = rand.Read(data)
	for off := 0; off < len(data); off += 64 << 10 {
		_, err := f.Write(data[off:min(off+64<<10, len(data))])
		require.NoError(t, err)
	}
	require.NoError(t, f.Sync())
	got, err := os.ReadFile(filepath.Join(s.dir, "s.bin"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
	require.NoError(t, f.Close())
	require.ErrorIs(t, f.Sync(), fs.ErrClosed)
}
