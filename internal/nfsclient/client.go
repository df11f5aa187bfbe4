// Package nfsclient is the NFSv3 client behind the SDK's userspace NFS
// session (workspace.NFSFileSystem): ONC RPC over one TCP connection with
// many calls in flight (rpc.go), the NFS procedures (ops.go), a bounded
// block cache shared by every read of the session (cache.go), read-ahead
// for sequential reads (readahead.go) and a write pipeline of UNSTABLE
// WRITEs committed on Sync and Close (writeback.go).
//
// Every call has a deadline (Options.CallTimeout) and ends when the
// session is closed, so a dead server never hangs a caller. A broken
// connection is redialled (and the export mounted again) by the next call.
package nfsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"sync"
	"time"

	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// Program numbers and procedures of NFSv3 and MOUNTv3 (RFC 1813).
const (
	progNFS         = 100003
	versNFS         = 3
	progMount       = 100005
	versMount       = 3
	procMount       = 1
	procGetAttr     = 1
	procLookup      = 3
	procRead        = 6
	procWrite       = 7
	procCreate      = 8
	procMkdir       = 9
	procRemove      = 12
	procRmdir       = 13
	procRename      = 14
	procReadDirPlus = 17
	procFSInfo      = 19
	procCommit      = 21
)

// MaxIOSize is the largest READ or WRITE the client sends (the Linux
// client's maximum too); the server's FSINFO may lower it.
const MaxIOSize = 1 << 20

// Defaults of Options.
const (
	DefaultCacheSize   = 8 << 20
	DefaultCallTimeout = 30 * time.Second
	DefaultAttrTimeout = time.Second
	DefaultReadAhead   = 4
	DefaultWrites      = 4
)

// Options tunes a session; zero values take the defaults.
type Options struct {
	// CacheSize is the byte size of the read cache (DefaultCacheSize when
	// 0); a negative value disables it.
	CacheSize int64
	// CallTimeout bounds every call from send to answer
	// (DefaultCallTimeout when 0); a call that times out breaks the
	// connection, and the next call redials.
	CallTimeout time.Duration
	// AttrTimeout is how long cached data is trusted without asking the
	// server for the file's attributes (DefaultAttrTimeout when 0).
	AttrTimeout time.Duration
	// ReadAhead is how many READs a sequential read keeps in flight.
	ReadAhead int
	// Writes is how many UNSTABLE WRITEs a file keeps in flight.
	Writes int
}

// ErrClosed is returned (wrapped) by calls on a closed session; it is
// fs.ErrClosed.
var ErrClosed = fs.ErrClosed

// Client is one NFSv3 session on one export. It is safe for concurrent use.
type Client struct {
	addr   string
	export string
	opts   Options
	rsize  uint32
	wsize  uint32
	cache  *blockCache
	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	mu     sync.Mutex // guards rc, root and redials
	rc     *rpcConn
	root   []byte
	closed bool
}

// Dial connects to the NFS server at addr (host:port, no portmapper),
// mounts export and reads FSINFO. ctx bounds the setup only.
func Dial(ctx context.Context, addr, export string, opts Options) (*Client, error) {
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.CallTimeout <= 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.AttrTimeout <= 0 {
		opts.AttrTimeout = DefaultAttrTimeout
	}
	if opts.ReadAhead <= 0 {
		opts.ReadAhead = DefaultReadAhead
	}
	if opts.Writes <= 0 {
		opts.Writes = DefaultWrites
	}
	c := &Client{addr: addr, export: export, opts: opts, cache: newBlockCache(opts.CacheSize, opts.AttrTimeout)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.connect(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	res, err := c.nfs(procFSInfo, c.Root())
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("nfs fsinfo: %w", err)
	}
	var info struct {
		Attr        postOpAttr
		RTMax       uint32
		RTPref      uint32
		RTMult      uint32
		WTMax       uint32
		WTPref      uint32
		WTMult      uint32
		DTPref      uint32
		MaxFileSize uint64
	}
	if err := xdr.Read(bytes.NewReader(res), &info); err != nil {
		c.Close()
		return nil, fmt.Errorf("nfs fsinfo: %w", err)
	}
	c.rsize, c.wsize = clampIO(info.RTMax), clampIO(info.WTMax)
	return c, nil
}

func clampIO(n uint32) uint32 {
	if n == 0 || n > MaxIOSize {
		return MaxIOSize
	}
	return max(n, 4096)
}

// Close ends the session: calls in flight and later calls fail with an
// error matching ErrClosed. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.cancel()
	if c.rc != nil {
		c.rc.close()
	}
	return nil
}

// Root returns the file handle of the export's root (it changes when a
// redial finds a restarted server).
func (c *Client) Root() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.root
}

// RSize and WSize are the READ and WRITE sizes in use.
func (c *Client) RSize() int { return int(c.rsize) }

// WSize is the WRITE size in use.
func (c *Client) WSize() int { return int(c.wsize) }

var errSessionClosed = fmt.Errorf("nfs session closed: %w", ErrClosed)

// connect dials and mounts the export. c.mu must not be held.
func (c *Client) connect(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.connLocked(ctx)
	return err
}

// conn returns a working connection, redialling a broken one.
func (c *Client) conn() (*rpcConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	defer cancel()
	return c.connLocked(ctx)
}

func (c *Client) connLocked(ctx context.Context) (*rpcConn, error) {
	if c.closed {
		return nil, errSessionClosed
	}
	if c.rc != nil && c.rc.alive() {
		return c.rc, nil
	}
	rc, err := dialRPC(ctx, c.addr)
	if err != nil {
		if c.ctx.Err() != nil {
			return nil, errSessionClosed
		}
		return nil, fmt.Errorf("nfs dial %s: %w", c.addr, err)
	}
	res, err := rc.call(ctx, progMount, versMount, procMount, net.Buffers{xdrString(c.export)}, c.opts.CallTimeout)
	if err == nil {
		var st uint32
		r := bytes.NewReader(res)
		if st, err = xdr.ReadUint32(r); err == nil && st != statusOK {
			err = &fs.PathError{Op: "mount", Path: c.export, Err: &StatusError{Status: st}}
		} else if err == nil {
			var root []byte
			if root, err = xdr.ReadOpaque(r); err == nil {
				c.root = root
			}
		}
	}
	if err != nil {
		rc.close()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("nfs mount %s: %w", c.export, err)
	}
	if c.rc != nil {
		c.rc.close()
	}
	c.rc = rc
	return rc, nil
}

// nfs calls an NFS procedure with the XDR encoding of args (each either
// []byte, already encoded, or a value for xdr.Write) and returns the body
// after an OK status; another status is a *StatusError.
func (c *Client) nfs(proc uint32, args ...any) ([]byte, error) {
	bufs := make(net.Buffers, 0, len(args))
	for _, a := range args {
		switch v := a.(type) {
		case encoded:
			bufs = append(bufs, v)
		case []byte:
			bufs = append(bufs, xdrOpaque(v))
		default:
			var b bytes.Buffer
			if err := xdr.Write(&b, v); err != nil {
				return nil, err
			}
			bufs = append(bufs, b.Bytes())
		}
	}
	rc, err := c.conn()
	if err != nil {
		return nil, err
	}
	res, err := rc.call(c.ctx, progNFS, versNFS, proc, bufs, c.opts.CallTimeout)
	if err != nil {
		if c.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
			return nil, errSessionClosed
		}
		return nil, err
	}
	if len(res) < 4 {
		return nil, errors.New("nfs: short reply")
	}
	if st := uint32(res[0])<<24 | uint32(res[1])<<16 | uint32(res[2])<<8 | uint32(res[3]); st != statusOK {
		return res[4:], &StatusError{Status: st}
	}
	return res[4:], nil
}

// IsConnError reports an error of the transport (not an NFS status): the
// call may be retried once the connection is redialled.
func IsConnError(err error) bool {
	return errors.Is(err, errBrokenConn)
}

// encoded is an argument already in XDR.
type encoded []byte

// xdrOpaque encodes variable-length opaque data.
func xdrOpaque(b []byte) encoded {
	n := len(b)
	out := make([]byte, 4+(n+3)&^3)
	out[0], out[1], out[2], out[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(out[4:], b)
	return out
}

func xdrString(s string) []byte { return xdrOpaque([]byte(s)) }
