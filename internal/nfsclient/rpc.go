package nfsclient

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ONC RPC constants (RFC 5531) used by the client.
const (
	rpcCall      = 0
	rpcReply     = 1
	rpcVersion   = 2
	msgAccepted  = 0
	acceptOK     = 0
	lastFragment = 1 << 31
	// maxReply bounds a reply record: a 1 MiB READ plus attributes, or a
	// large READDIRPLUS page.
	maxReply = 4 << 20
)

// errBrokenConn is the cause of calls failing after the connection broke;
// the next call redials.
var errBrokenConn = errors.New("nfs: connection to server lost")

// rpcConn is one TCP connection carrying ONC RPC calls, many in flight,
// matched to their replies by xid.
type rpcConn struct {
	conn net.Conn
	wmu  sync.Mutex // serializes call records

	mu      sync.Mutex
	pending map[uint32]chan []byte
	xid     uint32
	err     error         // why the connection stopped; nil while it works
	dead    chan struct{} // closed when err is set
}

// dialRPC connects to addr.
func dialRPC(ctx context.Context, addr string) (*rpcConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	rc := &rpcConn{conn: c, pending: make(map[uint32]chan []byte), dead: make(chan struct{})}
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	rc.xid = binary.BigEndian.Uint32(seed[:])
	go rc.readLoop()
	return rc, nil
}

// alive reports whether the connection still works.
func (rc *rpcConn) alive() bool {
	select {
	case <-rc.dead:
		return false
	default:
		return true
	}
}

// fail stops the connection with err (the first error wins) and fails
// every pending call.
func (rc *rpcConn) fail(err error) {
	rc.mu.Lock()
	if rc.err == nil {
		rc.err = err
		close(rc.dead)
	}
	rc.mu.Unlock()
	_ = rc.conn.Close()
}

// close ends the connection; pending and later calls fail with net.ErrClosed.
func (rc *rpcConn) close() { rc.fail(net.ErrClosed) }

func (rc *rpcConn) readLoop() {
	br := bufio.NewReaderSize(rc.conn, 64<<10)
	for {
		rec, err := readRecord(br)
		if err != nil {
			rc.fail(fmt.Errorf("%w: %v", errBrokenConn, err))
			return
		}
		if len(rec) < 4 {
			rc.fail(fmt.Errorf("%w: short reply", errBrokenConn))
			return
		}
		xid := binary.BigEndian.Uint32(rec)
		rc.mu.Lock()
		ch := rc.pending[xid]
		delete(rc.pending, xid)
		rc.mu.Unlock()
		if ch != nil {
			ch <- rec
		}
	}
}

// readRecord reads one RPC record (all its fragments).
func readRecord(br *bufio.Reader) ([]byte, error) {
	var rec []byte
	for {
		var mark [4]byte
		if _, err := io.ReadFull(br, mark[:]); err != nil {
			return nil, err
		}
		v := binary.BigEndian.Uint32(mark[:])
		size := int(v &^ lastFragment)
		if len(rec)+size > maxReply {
			return nil, fmt.Errorf("reply record over %d bytes", maxReply)
		}
		if rec == nil && v&lastFragment != 0 {
			rec = make([]byte, size)
			_, err := io.ReadFull(br, rec)
			return rec, noEOF(err)
		}
		start := len(rec)
		rec = append(rec, make([]byte, size)...)
		if _, err := io.ReadFull(br, rec[start:]); err != nil {
			return nil, noEOF(err)
		}
		if v&lastFragment != 0 {
			return rec, nil
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// call sends one call of prog/vers/proc with the XDR-encoded args and
// returns the procedure's result (after the accept status). It gives up
// when ctx ends or the deadline passes; a call that timed out breaks the
// connection (a server that does not answer one call is presumed dead).
func (rc *rpcConn) call(ctx context.Context, prog, vers, proc uint32, args net.Buffers, timeout time.Duration) ([]byte, error) {
	ch := make(chan []byte, 1)
	rc.mu.Lock()
	if rc.err != nil {
		err := rc.err
		rc.mu.Unlock()
		return nil, err
	}
	rc.xid++
	xid := rc.xid
	rc.pending[xid] = ch
	rc.mu.Unlock()

	var hdr [44]byte
	be := binary.BigEndian
	size := 40
	for _, a := range args {
		size += len(a)
	}
	be.PutUint32(hdr[0:], uint32(size)|lastFragment)
	be.PutUint32(hdr[4:], xid)
	be.PutUint32(hdr[8:], rpcCall)
	be.PutUint32(hdr[12:], rpcVersion)
	be.PutUint32(hdr[16:], prog)
	be.PutUint32(hdr[20:], vers)
	be.PutUint32(hdr[24:], proc)
	// cred and verf: AUTH_NULL, empty (bytes 28..43 stay zero)
	bufs := append(net.Buffers{hdr[:]}, args...)
	rc.wmu.Lock()
	if timeout > 0 {
		_ = rc.conn.SetWriteDeadline(time.Now().Add(timeout))
	}
	_, err := bufs.WriteTo(rc.conn)
	rc.wmu.Unlock()
	if err != nil {
		rc.fail(fmt.Errorf("%w: %v", errBrokenConn, err))
		return nil, rc.cause()
	}

	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case rec := <-ch:
		return parseReply(rec)
	case <-rc.dead:
		return nil, rc.cause()
	case <-ctx.Done():
		rc.forget(xid)
		return nil, ctx.Err()
	case <-timer:
		rc.forget(xid)
		err := fmt.Errorf("nfs: no answer from server in %v: %w", timeout, os.ErrDeadlineExceeded)
		rc.fail(err)
		return nil, err
	}
}

func (rc *rpcConn) forget(xid uint32) {
	rc.mu.Lock()
	delete(rc.pending, xid)
	rc.mu.Unlock()
}

func (rc *rpcConn) cause() error {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.err
}

// parseReply checks an RPC reply record and returns the procedure result.
func parseReply(rec []byte) ([]byte, error) {
	be := binary.BigEndian
	if len(rec) < 12 || be.Uint32(rec[4:]) != rpcReply {
		return nil, errors.New("nfs: malformed RPC reply")
	}
	if st := be.Uint32(rec[8:]); st != msgAccepted {
		return nil, fmt.Errorf("nfs: RPC call denied (reply status %d)", st)
	}
	rest := rec[12:]
	if len(rest) < 8 {
		return nil, errors.New("nfs: malformed RPC reply")
	}
	vlen := (int(be.Uint32(rest[4:])) + 3) &^ 3
	if vlen < 0 || len(rest) < 8+vlen+4 {
		return nil, errors.New("nfs: malformed RPC reply")
	}
	rest = rest[8+vlen:]
	if st := be.Uint32(rest); st != acceptOK {
		return nil, fmt.Errorf("nfs: RPC call not accepted (accept status %d)", st)
	}
	return rest[4:], nil
}
