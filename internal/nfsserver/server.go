// Package nfsserver serves every workspace over NFSv3 + MOUNTv3 on one TCP
// port (no portmapper), confined to the workspace directory.
//
// A client mounts "/<workspace_id>" (the path of the workspace's nfs_url;
// the leading slash is optional), or "/<workspace_id>.<token>" when
// Config.ExportKey is set (export_token.go). Each MOUNT calls Config.Resolve, so
// unknown or deleted workspaces are refused at once. The filesystem of an
// export is built on os.Root: no LOOKUP, symlink, ".." or name containing
// '/' or NUL can reach outside the workspace directory, and a symlink
// pointing outside gives neither access nor the target's attributes
// (READLINK still returns the link text). File handles carry an HMAC bound
// to the export that issued them, so a handle is useless on any other
// workspace, after the workspace is deleted, or on another server process
// (unless Config.HandleKey is shared).
//
// FSINFO advertises rtmax/wtmax of 1 GiB (go-nfs's fixed value; a READ is
// capped at 16 MiB), so clients may use 1 MiB requests; the Linux kernel
// client uses up to 1 MiB.
package nfsserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	nfs "github.com/willscott/go-nfs"
)

// Resolver maps a workspace id (the export path without its leading "/")
// to the workspace's host directory; ok is false for unknown workspaces.
// It is called on every MOUNT, so deleted workspaces disappear at once.
type Resolver func(workspaceID string) (dir string, ok bool)

// Config configures a Server.
type Config struct {
	// Resolve maps workspace ids to host directories (required; nil refuses every mount).
	Resolve Resolver
	// UID and GID own the files, directories and symlinks the server creates
	// when it runs as root (the sandbox uid). 0 means the default 100000;
	// -1 leaves them owned by the server. Ignored when not running as root.
	UID, GID int
	// OwnerOf, when set, gives the owner of what the server creates per
	// workspace (one host uid per workspace), overriding UID and GID.
	// Ignored when not running as root.
	OwnerOf func(workspaceID string) (uid, gid int)
	// Logger receives server logs; default slog.Default(). go-nfs's own
	// (process-wide) logs are routed to the first Server's Logger at debug level.
	Logger *slog.Logger
	// HandleKey, if set, keys the file handle HMAC so handles survive a
	// restart of the server; default a random key per Server.
	HandleKey []byte
	// MaxHandles bounds the file handle table (least recently used handles
	// are dropped and answer NFS3ERR_STALE); default 1<<18.
	MaxHandles int
	// ExportKey, when set, makes every export "<id>.<token>" (see
	// ExportName): the bare id no longer mounts. Set it when the API
	// requires a key, so that NFS does not bypass it.
	ExportKey []byte
	// GoNFSOnly leaves every request to go-nfs: no fast READs, and WRITEs
	// acknowledged FILE_SYNC without a sync, COMMIT doing nothing (see
	// interposer.go). For measurements and comparisons only.
	GoNFSOnly bool
}

// DefaultUID is the owner given to created files when Config.UID is 0.
const DefaultUID = 100000

// Server is an NFSv3 server for workspaces. It is safe for concurrent use.
type Server struct {
	h         *handler
	srv       *nfs.Server
	log       *slog.Logger
	cancel    context.CancelFunc
	goNFSOnly bool
	verf      [8]byte // the write verifier: new with every Server

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	conns  map[*trackedConn]struct{}
	wg     sync.WaitGroup // Serve calls
}

var setLogOnce sync.Once

// New returns a Server; it serves nothing until Serve.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UID == 0 {
		cfg.UID = DefaultUID
	}
	if cfg.GID == 0 {
		cfg.GID = DefaultUID
	}
	if os.Geteuid() != 0 {
		cfg.UID, cfg.GID = -1, -1
	}
	limit := cfg.MaxHandles
	if limit <= 0 {
		limit = 1 << 18
	}
	setLogOnce.Do(func() { nfs.SetLogger(newLogAdapter(cfg.Logger)) })
	ctx, cancel := context.WithCancel(context.Background())
	h := newHandler(cfg, limit)
	s := &Server{
		h:         h,
		srv:       &nfs.Server{Handler: h, Context: ctx},
		log:       cfg.Logger,
		cancel:    cancel,
		goNFSOnly: cfg.GoNFSOnly,
		lns:       make(map[net.Listener]struct{}),
		conns:     make(map[*trackedConn]struct{}),
	}
	_, _ = rand.Read(s.verf[:])
	return s
}

// Serve accepts connections on l until Close, which makes it return nil;
// any other accept error is returned. l is closed when Serve returns.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.lns[l] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	err := s.srv.Serve(&trackingListener{Listener: l, s: s})
	s.mu.Lock()
	delete(s.lns, l)
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil
	}
	return err
}

// Close stops the server: it closes the listeners and live connections,
// waits (up to 10 s) for their readers to stop, and releases every export.
// It is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for l := range s.lns {
		_ = l.Close()
	}
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	for _, c := range conns {
		_ = c.Conn.Close()
	}
	timeout := time.After(10 * time.Second)
	for _, c := range conns {
		select {
		case <-c.done:
		case <-timeout:
		}
	}
	s.wg.Wait()
	s.h.close()
	return nil
}

// trackingListener registers accepted connections with the server.
type trackingListener struct {
	net.Listener
	s *Server
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s, done: make(chan struct{})}
	tc.fr = &fastReader{tc: tc, br: bufio.NewReaderSize(c, 32<<10)}
	tc.lw = &lockedWriter{tc: tc}
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.s.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	l.s.conns[tc] = struct{}{}
	return tc, nil
}

// trackedConn knows when go-nfs's reader stopped using the connection,
// and puts the interposer (interposer.go) between the socket and go-nfs.
type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
	done chan struct{}
	fr   *fastReader
	lw   *lockedWriter
	wmu  sync.Mutex // held while a reply record is being written
}

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.fr.Read(p)
	if errors.Is(err, errRecordTooLarge) {
		c.s.log.Warn("nfs: closing connection", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Conn.Close()
	}
	if err != nil {
		c.finish()
	}
	return n, err
}

func (c *trackedConn) finish() {
	c.once.Do(func() {
		close(c.done)
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
}

// Write writes go-nfs's replies, never interleaved with the fast path's.
func (c *trackedConn) Write(b []byte) (int, error) { return c.lw.Write(b) }

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.finish()
	return err
}

var _ io.Reader = (*trackedConn)(nil)
