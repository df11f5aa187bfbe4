package nfsclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/nfsserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testServer is a real NFS server (internal/nfsserver) exporting dir as
// "/ws" on a fixed address, which restart keeps.
type testServer struct {
	t    *testing.T
	dir  string
	addr string
	srv  *nfsserver.Server
	done chan error
}

func startServer(t *testing.T, dir string) *testServer {
	t.Helper()
	ts := &testServer{t: t, dir: dir, addr: "127.0.0.1:0"}
	ts.start()
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.t.Helper()
	var l net.Listener
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, err = net.Listen("tcp", ts.addr); err == nil || time.Now().After(deadline) {
			break
		}
	}
	require.NoError(ts.t, err)
	ts.addr = l.Addr().String()
	ts.srv = nfsserver.New(nfsserver.Config{
		Resolve: func(id string) (string, bool) { return ts.dir, id == "ws" },
		Logger:  slog.New(slog.DiscardHandler),
	})
	ts.done = make(chan error, 1)
	go func() { ts.done <- ts.srv.Serve(l) }()
}

func (ts *testServer) stop() {
	if ts.srv == nil {
		return
	}
	require.NoError(ts.t, ts.srv.Close())
	require.NoError(ts.t, <-ts.done)
	ts.srv = nil
}

// restart stops the server and starts a new instance (new handles, new
// write verifier) on the same address.
func (ts *testServer) restart() {
	ts.stop()
	ts.start()
}

func dialTest(t *testing.T, ts *testServer, opts Options) *Client {
	t.Helper()
	c, err := Dial(context.Background(), ts.addr, "/ws", opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func openTest(t *testing.T, c *Client, name string) *File {
	t.Helper()
	fh, a, err := c.Walk([]string{name})
	require.NoError(t, err)
	return c.OpenFile(fh, []string{name}, a)
}

// newFileFixture starts a server on a new directory, dials it with the
// default options and creates the file name: the directory, the server
// and the open file.
func newFileFixture(t *testing.T, name string) (string, *testServer, *File) {
	t.Helper()
	dir := t.TempDir()
	ts := startServer(t, dir)
	return dir, ts, createTest(t, dialTest(t, ts, Options{}), name)
}

func createTest(t *testing.T, c *Client, name string) *File {
	t.Helper()
	fh, err := c.Create(c.Root(), name, 0o644, false)
	require.NoError(t, err)
	return c.OpenFile(fh, []string{name}, &Attr{Type: TypeReg})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// TestStatusErrorsReadLikeOS: NFS statuses read like the os package and
// match the io/fs sentinels.
func TestStatusErrorsReadLikeOS(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c := dialTest(t, ts, Options{})
	_, _, err := c.Walk([]string{"missing"})
	require.EqualError(t, err, "no such file or directory")
	require.ErrorIs(t, err, fs.ErrNotExist)
	require.ErrorIs(t, err, syscall.ENOENT)
	require.NoError(t, c.Mkdir(c.Root(), "d", 0o755))
	err = c.Mkdir(c.Root(), "d", 0o755)
	require.EqualError(t, err, "file exists")
	require.ErrorIs(t, err, fs.ErrExist)
	require.Equal(t, "NFS status 12345", (&StatusError{Status: 12345}).Error())
}

// TestClosedSession: calls on a closed session match fs.ErrClosed.
func TestClosedSession(t *testing.T) {
	ts := startServer(t, t.TempDir())
	c, err := Dial(context.Background(), ts.addr, "/ws", Options{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err = c.GetAttr(c.Root())
	require.ErrorIs(t, err, fs.ErrClosed)
}

// TestDeadServerDoesNotHang: a server that accepts but never answers makes
// calls fail at the call deadline, not hang.
func TestDeadServerDoesNotHang(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	_, err = Dial(context.Background(), l.Addr().String(), "/ws", Options{CallTimeout: 200 * time.Millisecond})
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Dial(ctx, l.Addr().String(), "/ws", Options{})
	require.ErrorIs(t, err, context.Canceled)
	l.Close()
	for c := range accepted {
		c.Close()
	}
}

// TestReadAtThroughCache: small ReadAts are served from 4 KiB blocks that
// match the file, at any offset and across the end.
func TestReadAtThroughCache(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(3<<20 + 777)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), data, 0o644))
	ts := startServer(t, dir)
	c := dialTest(t, ts, Options{CacheSize: 1 << 20}) // smaller than the file: evictions happen
	f := openTest(t, c, "f")
	defer f.Close()
	buf := make([]byte, 10000)
	for i := range 400 {
		off := int64((i * 7919 * 131) % (len(data) + 100))
		n, err := f.ReadAt(buf[:1+i%len(buf)], off)
		want := data[min(int(off), len(data)):min(int(off)+1+i%len(buf), len(data))]
		require.Equal(t, want, buf[:n], "at %d", off)
		if n < 1+i%len(buf) {
			require.ErrorIs(t, err, io.EOF)
		} else {
			require.NoError(t, err)
		}
	}
	c.cache.mu.Lock()
	used := c.cache.used
	c.cache.mu.Unlock()
	require.LessOrEqual(t, used, int64(1<<20))
}

// TestCacheSeesOtherWriters: data cached before another writer changed the
// file is dropped once the attributes show the change (reopen, or the
// attribute timeout).
func TestCacheSeesOtherWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("a"), 10000), 0o644))
	ts := startServer(t, dir)
	c := dialTest(t, ts, Options{AttrTimeout: time.Hour})
	f := openTest(t, c, "f")
	buf := make([]byte, 100)
	_, err := f.ReadAt(buf, 5000)
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte("a"), 100), buf)
	require.NoError(t, os.WriteFile(p, bytes.Repeat([]byte("b"), 10000), 0o644))
	// Close-to-open: a new LOOKUP sees new attributes and drops the data.
	require.NoError(t, f.Close())
	f = openTest(t, c, "f")
	_, err = f.ReadAt(buf, 5000)
	require.NoError(t, err)
	require.Equal(t, bytes.Repeat([]byte("b"), 100), buf)
	require.NoError(t, f.Close())
}

// TestOwnWritesAreRead: reads of the session see its writes at once,
// through the cache and the read-ahead.
func TestOwnWritesAreRead(t *testing.T) {
	dir, _, f := newFileFixture(t, "f")
	data := randomBytes(3<<20 + 5)
	for off := 0; off < len(data); off += 64 << 10 {
		_, err := f.Write(data[off:min(off+64<<10, len(data))], int64(off))
		require.NoError(t, err)
	}
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 1<<20+3)
	require.NoError(t, err)
	require.Equal(t, data[1<<20+3:1<<20+3+n], buf[:n])
	_, err = f.Write([]byte("XYZ"), 1<<20+10)
	require.NoError(t, err)
	copy(data[1<<20+10:], "XYZ")
	_, err = f.ReadAt(buf, 1<<20+3)
	require.NoError(t, err)
	require.Equal(t, data[1<<20+3:1<<20+3+4096], buf)
	var got []byte
	small := make([]byte, 777)
	for off := int64(0); ; {
		n, err := f.Read(small, off)
		got = append(got, small[:n]...)
		off += int64(n)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
	}
	require.True(t, bytes.Equal(data, got))
	require.NoError(t, f.Close())
	onDisk, err := os.ReadFile(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, onDisk))
}

// TestRestartBetweenWriteAndCommit: the server restarts (new instance,
// new handles, new verifier) after the WRITEs were answered and before
// COMMIT; Close finds the file again, resends and commits, and every byte
// lands.
func TestRestartBetweenWriteAndCommit(t *testing.T) {
	dir, ts, f := newFileFixture(t, "f")
	data := randomBytes(5<<20 + 3)
	_, err := f.Write(data, 0)
	require.NoError(t, err)
	require.NoError(t, f.Flush()) // every WRITE answered, none committed
	// Overwrite what the server has with zeros: only a resend restores it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), make([]byte, len(data)), 0o644))
	ts.restart()
	require.NoError(t, f.Close())
	onDisk, err := os.ReadFile(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, onDisk), "the data was resent after the restart")
}

// TestWriteErrorIsSticky: a WRITE that fails (the file was removed) is
// returned by a later Write, Sync and Close, never lost.
func TestWriteErrorIsSticky(t *testing.T) {
	dir, _, f := newFileFixture(t, "f")
	_, err := f.Write([]byte("hello"), 0)
	require.NoError(t, err)
	require.NoError(t, f.Sync())
	// Replace the file by a directory: the handle's path is no file.
	require.NoError(t, os.Remove(filepath.Join(dir, "f")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "f"), 0o755))
	_, _ = f.Write(bytes.Repeat([]byte("x"), 2<<20), 5)
	err = f.Sync()
	require.Error(t, err)
	_, werr := f.Write([]byte("more"), 0)
	require.Equal(t, err, werr)
	require.Equal(t, err, f.Close())
	require.False(t, errors.Is(err, fs.ErrClosed))
}

// TestLongWriteCommitsBehind: a stream longer than commitEvery is
// committed in the background as it goes (the spans kept for a resend stay
// bounded) and every byte lands.
func TestLongWriteCommitsBehind(t *testing.T) {
	dir, _, f := newFileFixture(t, "long")
	data := randomBytes(3*commitEvery + 12345)
	maxPending := int64(0)
	for off := 0; off < len(data); off += 64 << 10 {
		_, err := f.Write(data[off:min(off+64<<10, len(data))], int64(off))
		require.NoError(t, err)
		f.wb.mu.Lock()
		maxPending = max(maxPending, f.wb.pending)
		f.wb.mu.Unlock()
	}
	require.NoError(t, f.Close())
	require.Less(t, maxPending, int64(3*commitEvery), "spans were let go before Close")
	got, err := os.ReadFile(filepath.Join(dir, "long"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got))
}
