//go:build !windows

package nfsserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-nfs-client's Target starts a cache janitor that never stops; the
	// tests use Target only as a convenient client.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/willscott/go-nfs-client/nfs.(*Target).cleanupCache"),
		goleak.IgnoreTopFunction("time.Sleep"))
}

type testServer struct {
	srv  *Server
	addr string
	mu   sync.Mutex
	dirs map[string]string
	done chan error
}

func startServer(t *testing.T, dirs map[string]string, cfg Config) *testServer {
	t.Helper()
	ts := &testServer{dirs: dirs, done: make(chan error, 1)}
	cfg.Resolve = func(id string) (string, bool) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		d, ok := ts.dirs[id]
		return d, ok
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ts.srv = New(cfg)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ts.addr = l.Addr().String()
	go func() { ts.done <- ts.srv.Serve(l) }()
	t.Cleanup(func() {
		require.NoError(t, ts.srv.Close())
		require.NoError(t, <-ts.done)
	})
	return ts
}

func (ts *testServer) forget(id string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.dirs, id)
}

// dial connects an RPC client (no portmapper, unprivileged source port).
func dial(t *testing.T, addr string) *rpc.Client {
	t.Helper()
	c, err := rpc.DialTCP("tcp", addr, false)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func mount(t *testing.T, addr, path string) (*nfsc.Target, []byte) {
	t.Helper()
	c := dial(t, addr)
	m := &nfsc.Mount{Client: c}
	tgt, err := m.Mount(path, rpc.AuthNull)
	require.NoError(t, err)
	root := rawMount(t, c, path)
	return tgt, root
}

func hdr(proc uint32) rpc.Header {
	return rpc.Header{Rpcvers: 2, Prog: nfsc.Nfs3Prog, Vers: nfsc.Nfs3Vers, Proc: proc, Cred: rpc.AuthNull, Verf: rpc.AuthNull}
}

// offsetCountArgs is the call of READ and of COMMIT (RFC 1813: the file,
// an offset and a count).
type offsetCountArgs struct {
	rpc.Header
	FH     []byte
	Offset uint64
	Count  uint32
}

// rawMount returns the root handle of an export.
func rawMount(t *testing.T, c *rpc.Client, path string) []byte {
	t.Helper()
	res, err := c.Call(&struct {
		rpc.Header
		Dirpath string
	}{rpc.Header{Rpcvers: 2, Prog: nfsc.MountProg, Vers: nfsc.MountVers, Proc: nfsc.MountProc3MNT, Cred: rpc.AuthNull, Verf: rpc.AuthNull}, path})
	require.NoError(t, err)
	st, err := xdr.ReadUint32(res)
	require.NoError(t, err)
	require.EqualValues(t, 0, st, "mount %s", path)
	fh, err := xdr.ReadOpaque(res)
	require.NoError(t, err)
	return fh
}

// rawLookup returns the NFS status and handle of name in dir.
func rawLookup(t *testing.T, c *rpc.Client, dir []byte, name string) (uint32, []byte, *nfsc.Fattr) {
	t.Helper()
	res, err := c.Call(&struct {
		rpc.Header
		What nfsc.Diropargs3
	}{hdr(nfsc.NFSProc3Lookup), nfsc.Diropargs3{FH: dir, Filename: name}})
	require.NoError(t, err)
	st, err := xdr.ReadUint32(res)
	require.NoError(t, err)
	if st != 0 {
		return st, nil, nil
	}
	var ok struct {
		FH      []byte
		Attr    nfsc.PostOpAttr
		DirAttr nfsc.PostOpAttr
	}
	require.NoError(t, xdr.Read(res, &ok))
	return 0, ok.FH, &ok.Attr.Attr
}

func rawGetattr(t *testing.T, c *rpc.Client, fh []byte) (uint32, *nfsc.Fattr) {
	t.Helper()
	res, err := c.Call(&struct {
		rpc.Header
		FH []byte
	}{hdr(nfsc.NFSProc3GetAttr), fh})
	require.NoError(t, err)
	st, err := xdr.ReadUint32(res)
	require.NoError(t, err)
	if st != 0 {
		return st, nil
	}
	var a nfsc.Fattr
	require.NoError(t, xdr.Read(res, &a))
	return 0, &a
}

// rawRead READs n bytes of fh from offset 0: the status and the data.
func rawRead(t *testing.T, c *rpc.Client, fh []byte, n uint32) (uint32, []byte) {
	t.Helper()
	r := readAt(t, c, fh, 0, n)
	return r.Status, r.Data
}

func rawCreate(t *testing.T, c *rpc.Client, dir []byte, name string) uint32 {
	t.Helper()
	type how struct {
		Mode uint32
		Attr nfsc.Sattr3
	}
	res, err := c.Call(&struct {
		rpc.Header
		Where nfsc.Diropargs3
		HW    how
	}{hdr(nfsc.NFSProc3Create), nfsc.Diropargs3{FH: dir, Filename: name}, how{}})
	require.NoError(t, err)
	st, err := xdr.ReadUint32(res)
	require.NoError(t, err)
	return st
}

func TestReadWriteList(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from host"), 0o644))
	ts := startServer(t, map[string]string{"ws-1": dir}, Config{})
	tgt, _ := mount(t, ts.addr, "/ws-1")

	info, err := tgt.FSInfo()
	require.NoError(t, err)
	require.GreaterOrEqual(t, info.RTMax, uint32(1<<20))
	require.GreaterOrEqual(t, info.WTMax, uint32(1<<20))

	f, err := tgt.Open("hello.txt")
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, "hello from host", string(b))

	_, err = tgt.Mkdir("sub", 0o755)
	require.NoError(t, err)
	w, err := tgt.OpenFile("sub/new.bin", 0o644)
	require.NoError(t, err)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	n, err := w.Write(data)
	require.NoError(t, err)
	require.Equal(t, len(data), n)
	require.NoError(t, w.Close())
	got, err := os.ReadFile(filepath.Join(dir, "sub", "new.bin"))
	require.NoError(t, err)
	require.Equal(t, data, got)
	if os.Geteuid() == 0 {
		st, err := os.Stat(filepath.Join(dir, "sub", "new.bin"))
		require.NoError(t, err)
		require.EqualValues(t, DefaultUID, st.Sys().(*syscall.Stat_t).Uid, "created files belong to the sandbox uid")
		st, err = os.Stat(filepath.Join(dir, "sub"))
		require.NoError(t, err)
		require.EqualValues(t, DefaultUID, st.Sys().(*syscall.Stat_t).Uid, "created dirs belong to the sandbox uid")
	}

	require.NoError(t, tgt.Rename("sub/new.bin", "moved.bin"))
	ents, err := tgt.ReadDirPlus(".")
	require.NoError(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	require.Equal(t, []string{"hello.txt", "moved.bin", "sub"}, names)
	require.NoError(t, tgt.Remove("moved.bin"))
	require.NoError(t, tgt.RmDir("sub"))
	_, err = os.Stat(filepath.Join(dir, "moved.bin"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestMountPaths(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, map[string]string{"ws-1": dir}, Config{})
	c := dial(t, ts.addr)
	require.NotEmpty(t, rawMount(t, c, "/ws-1"))
	require.NotEmpty(t, rawMount(t, c, "ws-1"), "the leading slash is optional")
	for _, p := range []string{"/nope", "/", "", "/ws-1/sub", "/..", "/ws-1\x00"} {
		m := &nfsc.Mount{Client: c}
		_, err := m.Mount(p, rpc.AuthNull)
		require.Error(t, err, "mount %q", p)
	}
	// Deleted workspaces disappear at once, along with their handles.
	root := rawMount(t, c, "/ws-1")
	st, _ := rawGetattr(t, c, root)
	require.EqualValues(t, 0, st)
	ts.forget("ws-1")
	require.NoError(t, os.RemoveAll(dir))
	_, err := (&nfsc.Mount{Client: c}).Mount("/ws-1", rpc.AuthNull)
	require.Error(t, err)
	st, _ = rawGetattr(t, c, root)
	require.EqualValues(t, nfsc.NFS3ErrStale, st)
}

func TestConfinement(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "ws")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(base, "outside.txt"), []byte("host secret"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a", "b", "in.txt"), []byte("inside"), 0o644))
	require.NoError(t, os.Symlink("/etc", filepath.Join(dir, "etc")))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	require.NoError(t, os.Symlink("../outside.txt", filepath.Join(dir, "rel")))
	require.NoError(t, os.Symlink("../../../../../../etc", filepath.Join(dir, "a", "up")))
	require.NoError(t, os.Symlink("b/in.txt", filepath.Join(dir, "a", "ok")))

	ts := startServer(t, map[string]string{"ws": dir}, Config{})
	c := dial(t, ts.addr)
	root := rawMount(t, c, "/ws")
	etc, err := os.Stat("/etc")
	require.NoError(t, err)
	etcIno := etc.Sys().(*syscall.Stat_t).Ino

	// A symlink to /etc is a symlink: its own attributes, never /etc's.
	st, etcH, attr := rawLookup(t, c, root, "etc")
	require.EqualValues(t, 0, st)
	require.EqualValues(t, nfsc.NF3Lnk, attr.Type)
	require.NotEqual(t, etcIno, attr.Fileid)
	st, attr = rawGetattr(t, c, etcH)
	require.EqualValues(t, 0, st)
	require.EqualValues(t, nfsc.NF3Lnk, attr.Type)
	st, _, _ = rawLookup(t, c, etcH, "passwd")
	require.NotEqualValues(t, 0, st, "lookup through a symlink to /etc")
	st, _, _ = rawLookup(t, c, etcH, "..")
	require.NotEqualValues(t, 0, st)
	// READLINK may return the text.
	tgt, err := (&nfsc.Mount{Client: c}).Mount("/ws", rpc.AuthNull)
	require.NoError(t, err)
	lf, err := tgt.Open("etc")
	require.NoError(t, err)
	txt, err := lf.Readlink()
	require.NoError(t, err)
	require.Equal(t, "/etc", txt)

	// Reading through links that leave the export fails.
	for _, name := range []string{"passwd", "rel"} {
		st, h, _ := rawLookup(t, c, root, name)
		require.EqualValues(t, 0, st)
		st, data := rawRead(t, c, h, 4096)
		require.NotEqualValues(t, 0, st, "read via %s: %q", name, data)
	}
	st, aH, _ := rawLookup(t, c, root, "a")
	require.EqualValues(t, 0, st)
	st, upH, _ := rawLookup(t, c, aH, "up")
	require.EqualValues(t, 0, st)
	st, _, _ = rawLookup(t, c, upH, "passwd")
	require.NotEqualValues(t, 0, st)
	// A link inside the export works.
	st, okH, _ := rawLookup(t, c, aH, "ok")
	require.EqualValues(t, 0, st)
	st, data := rawRead(t, c, okH, 100)
	require.EqualValues(t, 0, st)
	require.Equal(t, "inside", string(data))

	// ".." at the root, and names with '/' or NUL.
	st, _, _ = rawLookup(t, c, root, "..")
	require.EqualValues(t, nfsc.NFS3ErrAcces, st)
	st, parent, _ := rawLookup(t, c, aH, "..")
	require.EqualValues(t, 0, st)
	require.Equal(t, root, parent)
	for _, name := range []string{"a/b", "a/b/in.txt", "../outside.txt", "a/../../outside.txt", "/etc/passwd", "in\x00.txt", ""} {
		st, _, _ := rawLookup(t, c, root, name)
		require.NotEqualValues(t, 0, st, "lookup %q", name)
		require.NotEqualValues(t, 0, rawCreate(t, c, root, name), "create %q", name)
	}
	require.NotEqualValues(t, 0, rawCreate(t, c, aH, ".."))
	_, err = os.Stat(filepath.Join(base, "b"))
	require.ErrorIs(t, err, os.ErrNotExist)
	host, err := os.ReadFile(filepath.Join(base, "outside.txt"))
	require.NoError(t, err)
	require.Equal(t, "host secret", string(host))
}

func TestForeignHandleRefused(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dirA, "secret.txt"), []byte("A's secret"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dirB, "secret.txt"), []byte("B's file"), 0o644))
	ts := startServer(t, map[string]string{"a": dirA, "b": dirB}, Config{})
	c := dial(t, ts.addr)
	rootA, rootB := rawMount(t, c, "/a"), rawMount(t, c, "/b")
	require.NotEqual(t, rootA, rootB)
	st, secretA, _ := rawLookup(t, c, rootA, "secret.txt")
	require.EqualValues(t, 0, st)
	st, data := rawRead(t, c, secretA, 100)
	require.EqualValues(t, 0, st)
	require.Equal(t, "A's secret", string(data))

	splice := func(idFrom, tagFrom []byte) []byte {
		return append(append([]byte{}, idFrom[:1+fileIDLen]...), tagFrom[1+fileIDLen:]...)
	}
	forged := [][]byte{
		splice(secretA, rootB), // A's file id under B's export tag
		splice(rootB, secretA), // B's root id with A's tag
		append(secretA[:len(secretA)-1:len(secretA)-1], secretA[len(secretA)-1]^1), // bad tag
		secretA[:len(secretA)-1], // truncated
		append([]byte{}, make([]byte, handleLen)...),
	}
	for i, fh := range forged {
		st, _ := rawGetattr(t, c, fh)
		require.EqualValues(t, nfsc.NFS3ErrStale, st, "forged handle %d", i)
		st, _ = rawRead(t, c, fh, 100)
		require.NotEqualValues(t, 0, st, "forged handle %d", i)
		st, _, _ = rawLookup(t, c, fh, "secret.txt")
		require.NotEqualValues(t, 0, st, "forged handle %d", i)
	}

	// Another server exporting the same directory refuses this server's handles.
	ts2 := startServer(t, map[string]string{"a": dirA}, Config{})
	c2 := dial(t, ts2.addr)
	_ = rawMount(t, c2, "/a")
	st, _ = rawGetattr(t, c2, secretA)
	require.EqualValues(t, nfsc.NFS3ErrStale, st)
	st, _ = rawGetattr(t, c2, rootA)
	require.EqualValues(t, nfsc.NFS3ErrStale, st)
}

func TestRecordTooLarge(t *testing.T) {
	ts := startServer(t, map[string]string{"ws": t.TempDir()}, Config{})
	conn, err := net.Dial("tcp", ts.addr)
	require.NoError(t, err)
	defer conn.Close()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 1<<31|(100<<20))
	_, err = conn.Write(b[:])
	require.NoError(t, err)
	_, err = conn.Read(make([]byte, 10))
	require.Error(t, err, "the server closes the connection")
}

func TestCloseStopsServe(t *testing.T) {
	srv := New(Config{Resolve: func(string) (string, bool) { return "", false }, Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, srv.Close())
	require.NoError(t, <-done)
	require.NoError(t, srv.Close(), "idempotent")
	_, err = conn.Read(make([]byte, 1))
	require.True(t, errors.Is(err, io.EOF) || err != nil)
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.NoError(t, srv.Serve(l2), "Serve after Close returns at once")
}
