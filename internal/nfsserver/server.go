// Package nfsserver serves every workspace over NFSv3 + MOUNTv3 on one TCP
// port (no portmapper), confined to the workspace directory.
//
// A client mounts "/<workspace_id>" (the path of the workspace's nfs_url;
// the leading slash is optional). Each MOUNT calls Config.Resolve, so
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
}

// DefaultUID is the owner given to created files when Config.UID is 0.
const DefaultUID = 100000

// Server is an NFSv3 server for workspaces. It is safe for concurrent use.
type Server struct {
	h      *handler
	srv    *nfs.Server
	log    *slog.Logger
	cancel context.CancelFunc

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
	return &Server{
		h:      h,
		srv:    &nfs.Server{Handler: h, Context: ctx},
		log:    cfg.Logger,
		cancel: cancel,
		lns:    make(map[net.Listener]struct{}),
		conns:  make(map[*trackedConn]struct{}),
	}
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
// guards the server against RPC records larger than maxRecord, and answers
// READs itself (fastread.go).
type trackedConn struct {
	net.Conn
	s    *Server
	once sync.Once
	done chan struct{}
	fr   *fastReader
	lw   *lockedWriter
	wmu  sync.Mutex // held while a reply record is being written

	// record-marking state: bytes left in the current fragment, and the
	// partially read 4-byte fragment header.
	left   int64
	hdr    [4]byte
	hdrN   int
	recLen int64
}

// maxRecord bounds an RPC record (a WRITE of 16 MiB plus headers); larger
// records close the connection instead of making the server allocate them.
const maxRecord = 16<<20 + 64<<10

var errRecordTooLarge = errors.New("nfsserver: RPC record too large")

func (c *trackedConn) Read(p []byte) (int, error) {
	n, err := c.fr.Read(p)
	if n > 0 {
		if verr := c.scan(p[:n]); verr != nil {
			c.s.log.Warn("nfs: closing connection", "remote", c.RemoteAddr().String(), "err", verr)
			_ = c.Conn.Close()
			n, err = 0, verr
		}
	}
	if err != nil {
		c.finish()
	}
	return n, err
}

// scan follows the record marking of the byte stream.
func (c *trackedConn) scan(b []byte) error {
	for len(b) > 0 {
		if c.left > 0 {
			k := min(int64(len(b)), c.left)
			c.left -= k
			b = b[k:]
			continue
		}
		k := copy(c.hdr[c.hdrN:], b)
		c.hdrN += k
		b = b[k:]
		if c.hdrN < 4 {
			return nil
		}
		c.hdrN = 0
		v := uint32(c.hdr[0])<<24 | uint32(c.hdr[1])<<16 | uint32(c.hdr[2])<<8 | uint32(c.hdr[3])
		size := int64(v &^ (1 << 31))
		c.recLen += size
		if c.recLen > maxRecord {
			return errRecordTooLarge
		}
		if v&(1<<31) != 0 {
			c.recLen = 0
		}
		c.left = size
	}
	return nil
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
