package nfsserver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	nfs "github.com/willscott/go-nfs"
)

// The fast READ path. go-nfs answers a READ by allocating a zeroed buffer,
// encoding the reply into a growing bytes.Buffer, copying that into a
// second growing buffer and then through a bufio.Writer: about five
// allocations and four copies of every byte read. trackedConn answers
// NFSv3 READs of regular files itself instead: it reads into a pooled
// buffer and writes the reply with one writev (header, data, padding). It
// does so only when the request parses and the handle, open and fstat
// succeed; every other request, and every READ that would fail, goes to
// go-nfs unchanged, so errors are go-nfs's.

const (
	nfsProg      = 100003
	nfsVers      = 3
	nfsProcRead  = 6
	maxFastCount = 1 << 20 // larger READs go to go-nfs
	maxReadCall  = 1024    // a READ call record is smaller than this
)

// noFastRead disables the fast path (tests compare it with go-nfs).
var noFastRead atomic.Bool

var readBufPool = sync.Pool{New: func() any { b := make([]byte, maxFastCount); return &b }}

// readCall is a parsed READ call.
type readCall struct {
	xid    uint32
	fh     []byte
	offset uint64
	count  uint32
}

// parseReadCall parses rec (one complete RPC record without its marker)
// as an NFSv3 READ call; ok is false for anything else.
func parseReadCall(rec []byte) (c readCall, ok bool) {
	r := xdrReader{b: rec}
	c.xid = r.u32()
	if r.u32() != 0 || r.u32() != 2 || r.u32() != nfsProg || r.u32() != nfsVers || r.u32() != nfsProcRead {
		return c, false
	}
	r.u32() // cred flavor
	r.opaque()
	r.u32() // verf flavor
	r.opaque()
	c.fh = r.opaque()
	c.offset = uint64(r.u32())<<32 | uint64(r.u32())
	c.count = r.u32()
	if r.bad || len(r.b) != 0 || len(c.fh) != handleLen {
		return c, false
	}
	return c, true
}

type xdrReader struct {
	b   []byte
	bad bool
}

func (r *xdrReader) u32() uint32 {
	if len(r.b) < 4 {
		r.bad = true
		r.b = nil
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *xdrReader) opaque() []byte {
	n := r.u32()
	padded := (uint64(n) + 3) &^ 3
	if r.bad || uint64(len(r.b)) < padded {
		r.bad = true
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[padded:]
	return v
}

// serveRead answers c on conn when it can; false means go-nfs must.
func (tc *trackedConn) serveRead(c readCall) (bool, error) {
	if noFastRead.Load() || c.count > maxFastCount {
		return false, nil
	}
	bfs, p, err := tc.s.h.FromHandle(c.fh)
	if err != nil {
		return false, nil
	}
	r, ok := bfs.(*rootFS)
	if !ok {
		return false, nil
	}
	name := r.Join(p...)
	if check("open", name) != nil {
		return false, nil
	}
	f, err := r.root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0) // a FIFO must not block
	if err != nil {
		return false, nil
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return false, nil
	}
	count := int64(c.count)
	eof := false
	if size := info.Size(); int64(c.offset) >= size || c.offset > 1<<62 {
		count, eof = 0, true
	} else if size-int64(c.offset) <= count {
		count, eof = size-int64(c.offset), true
	}
	bp := readBufPool.Get().(*[]byte)
	defer readBufPool.Put(bp)
	data := (*bp)[:count]
	n, err := f.ReadAt(data, int64(c.offset))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, nil
	}
	if errors.Is(err, io.EOF) {
		eof = true
	}
	data = data[:n]

	var hdr bytes.Buffer
	hdr.Grow(160)
	put := func(v uint32) { _ = binary.Write(&hdr, binary.BigEndian, v) }
	put(0) // record marker, set below
	put(c.xid)
	put(1) // REPLY
	put(0) // MSG_ACCEPTED
	put(0) // verifier AUTH_NULL
	put(0) //   of length 0
	put(0) // SUCCESS
	put(uint32(nfs.NFSStatusOk))
	if err := nfs.WritePostOpAttrs(&hdr, nfs.ToFileAttribute(info, name)); err != nil {
		return false, nil
	}
	put(uint32(n))
	if eof {
		put(1)
	} else {
		put(0)
	}
	put(uint32(n))
	pad := (4 - n%4) % 4
	b := hdr.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)-4+n+pad)|1<<31)
	bufs := net.Buffers{b, data, make([]byte, pad)}
	tc.wmu.Lock()
	_, err = bufs.WriteTo(tc.Conn)
	tc.wmu.Unlock()
	return true, err
}

// fastReader sits between the socket and go-nfs: it takes READ calls out
// of the stream and passes every other record through.
type fastReader struct {
	tc   *trackedConn
	br   *bufio.Reader
	left int64 // bytes of a passed-through fragment still to hand to go-nfs
	cont bool  // the next fragment continues a passed-through record
}

// Read gives go-nfs the next bytes of records it must answer.
func (fr *fastReader) Read(p []byte) (int, error) {
	for fr.left == 0 {
		h, err := fr.br.Peek(4)
		if err != nil {
			if len(h) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		v := binary.BigEndian.Uint32(h)
		size := int(v &^ (1 << 31))
		last := v&(1<<31) != 0
		if !last || fr.cont || size > maxReadCall {
			// Not a small single-fragment record (or the rest of a
			// multi-fragment one): go-nfs's.
			fr.left = int64(size) + 4
			fr.cont = !last
			break
		}
		rec, err := fr.br.Peek(4 + size)
		if err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		call, ok := parseReadCall(rec[4:])
		if !ok {
			fr.left = int64(size) + 4
			break
		}
		handled, err := fr.tc.serveRead(call)
		if err != nil {
			return 0, err
		}
		if !handled {
			fr.left = int64(size) + 4
			break
		}
		_, _ = fr.br.Discard(4 + size)
	}
	if int64(len(p)) > fr.left {
		p = p[:fr.left]
	}
	n, err := fr.br.Read(p)
	fr.left -= int64(n)
	return n, err
}

// lockedWriter serializes go-nfs's replies with the fast path's: it holds
// wmu from the first byte of a reply record to its last.
type lockedWriter struct {
	tc     *trackedConn
	left   int64 // bytes of the current fragment still to come
	hdr    [4]byte
	hdrN   int
	last   bool // the current fragment ends its record
	locked bool
}

func (w *lockedWriter) Write(b []byte) (int, error) {
	if !w.locked {
		w.tc.wmu.Lock()
		w.locked = true
	}
	n, err := w.tc.Conn.Write(b)
	w.follow(b[:n])
	if err != nil || (w.left == 0 && w.hdrN == 0 && w.last) {
		w.last = false
		w.locked = false
		w.tc.wmu.Unlock()
	}
	return n, err
}

// follow tracks the record marking of written bytes.
func (w *lockedWriter) follow(b []byte) {
	for len(b) > 0 {
		if w.left > 0 {
			k := min(int64(len(b)), w.left)
			w.left -= k
			b = b[k:]
			continue
		}
		k := copy(w.hdr[w.hdrN:], b)
		w.hdrN += k
		b = b[k:]
		if w.hdrN < 4 {
			return
		}
		w.hdrN = 0
		v := binary.BigEndian.Uint32(w.hdr[:])
		w.left = int64(v &^ (1 << 31))
		w.last = v&(1<<31) != 0
	}
}
