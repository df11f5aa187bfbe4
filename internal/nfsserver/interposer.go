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
	"syscall"

	nfs "github.com/willscott/go-nfs"
)

// The interposer: the one place that parses the RPC record stream of a
// connection. It sits between the socket and go-nfs, and
//
//   - bounds every record (maxRecord), so a client cannot make the server
//     allocate more;
//   - answers NFSv3 WRITE and COMMIT of regular files itself, truthfully:
//     an UNSTABLE WRITE is acknowledged UNSTABLE (written, not synced), a
//     DATA_SYNC or FILE_SYNC WRITE is fdatasync'ed before its FILE_SYNC
//     answer, and COMMIT fsyncs the file; both carry this server's write
//     verifier, which changes with every Server, so a client can tell that
//     data it has not seen committed may be lost and resend it. go-nfs
//     answers every WRITE FILE_SYNC without syncing and its COMMIT does
//     nothing, and its procedure table takes handlers with an unexported
//     type, so this cannot be done inside go-nfs.
//   - answers READs of regular files with one pooled buffer and one writev.
//     Measured with the SDK client and its 1 MiB read-ahead (4 READs in
//     flight), 64 MiB file, BenchmarkNFSRead vs BenchmarkNFSReadGoNFSOnly
//     in the root package, on 2 cores shared with other builds (load ~18,
//     so figures vary run to run; same run side by side): Read buffers of
//     8 KiB / 64 KiB / 1 MiB gave 463 / 464 / 261 MB/s here and 76 / 88 /
//     201 MB/s with go-nfs alone; other runs 671 / 863 / 609 vs 217 /
//     276 / 112, and at a lower load (~9) 1045 / 1030 / 905 vs 175 / 173
//     / 192. go-nfs allocates a zeroed buffer per READ and copies
//     every byte four times; alone it stays below the NFS read goal
//     (>= 250 MB/s), so the READ path stays.
//
// A request is answered here only when it parses and its handle, open and
// fstat succeed; every other request goes to go-nfs unchanged (errors are
// go-nfs's). Config.GoNFSOnly turns the WRITE, COMMIT and READ paths off
// (the record bound stays).

const (
	nfsProg       = 100003
	nfsVers       = 3
	nfsProcRead   = 6
	nfsProcWrite  = 7
	nfsProcCommit = 21
	maxFastCount  = 1 << 20 // larger READs go to go-nfs
	maxCallHead   = 1024    // an RPC call header, or a READ or COMMIT call, fits in this
	// maxRecord bounds an RPC record (a WRITE of 16 MiB plus headers);
	// larger records close the connection instead of making the server
	// allocate them.
	maxRecord = 16<<20 + 64<<10
	// writeStable levels (stable_how)
	stableUnstable = 0
	stableFileSync = 2
)

var errRecordTooLarge = errors.New("nfsserver: RPC record too large")

var (
	readBufPool  = sync.Pool{New: func() any { b := make([]byte, maxFastCount); return &b }}
	writeBufPool = sync.Pool{New: func() any { b := make([]byte, 0, maxFastCount+maxCallHead); return &b }}
)

// rpcCall is a parsed RPC call: its xid, procedure and arguments.
type rpcCall struct {
	xid  uint32
	prog uint32
	vers uint32
	proc uint32
	args []byte
}

// parseCall parses rec (one complete RPC record without its marker, or at
// least its beginning) as a call; ok is false for anything else.
func parseCall(rec []byte) (c rpcCall, ok bool) {
	r := xdrReader{b: rec}
	c.xid = r.u32()
	if r.u32() != 0 || r.u32() != 2 {
		return c, false
	}
	c.prog, c.vers, c.proc = r.u32(), r.u32(), r.u32()
	r.u32() // cred flavor
	r.opaque()
	r.u32() // verf flavor
	r.opaque()
	if r.bad {
		return c, false
	}
	c.args = r.b
	return c, true
}

// readCall is a parsed READ call.
type readCall struct {
	xid    uint32
	fh     []byte
	offset uint64
	count  uint32
}

// parseReadCall parses rec (one complete RPC record without its marker)
// as an NFSv3 READ call; ok is false for anything else.
func parseReadCall(rec []byte) (readCall, bool) {
	c, ok := parseCall(rec)
	if !ok || c.prog != nfsProg || c.vers != nfsVers || c.proc != nfsProcRead {
		return readCall{}, false
	}
	r := xdrReader{b: c.args}
	rc := readCall{xid: c.xid, fh: r.opaque(), offset: r.u64(), count: r.u32()}
	if r.bad || len(r.b) != 0 || len(rc.fh) != handleLen {
		return rc, false
	}
	return rc, true
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

func (r *xdrReader) u64() uint64 { return uint64(r.u32())<<32 | uint64(r.u32()) }

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

// fastReader sits between the socket and go-nfs: it takes the calls it
// answers out of the stream and passes every other record through.
type fastReader struct {
	tc     *trackedConn
	br     *bufio.Reader
	left   int64  // bytes of a passed-through fragment still to hand to go-nfs
	cont   bool   // the next fragment continues a passed-through record
	recLen int64  // bytes of the passed-through record so far
	replay []byte // a record taken out of the stream and then left to go-nfs
	rbuf   *[]byte
}

// Read gives go-nfs the next bytes of records it must answer.
func (fr *fastReader) Read(p []byte) (int, error) {
	for fr.left == 0 && len(fr.replay) == 0 {
		if fr.rbuf != nil {
			writeBufPool.Put(fr.rbuf)
			fr.rbuf = nil
		}
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
		if fr.recLen += int64(size); fr.recLen > maxRecord {
			return 0, errRecordTooLarge
		}
		if !last || fr.cont {
			// A multi-fragment record: go-nfs's.
			fr.pass(size, last)
			break
		}
		rec, _ := fr.br.Peek(4 + min(size, maxCallHead))
		call, ok := parseCall(rec[4:])
		if !ok || fr.tc.s.goNFSOnly || call.prog != nfsProg || call.vers != nfsVers {
			fr.pass(size, last)
			break
		}
		switch call.proc {
		case nfsProcRead:
			if size > maxCallHead {
				fr.pass(size, last)
				break
			}
			rec, err := fr.br.Peek(4 + size)
			if err != nil {
				return 0, io.ErrUnexpectedEOF
			}
			c, ok := parseReadCall(rec[4:])
			handled := false
			if ok {
				if handled, err = fr.tc.serveRead(c); err != nil {
					return 0, err
				}
			}
			if !handled {
				fr.pass(size, last)
				break
			}
			_, _ = fr.br.Discard(4 + size)
			fr.recLen = 0
		case nfsProcWrite, nfsProcCommit:
			bp := writeBufPool.Get().(*[]byte)
			if cap(*bp) < 4+size {
				*bp = make([]byte, 4+size)
			}
			buf := (*bp)[:4+size]
			if _, err := io.ReadFull(fr.br, buf); err != nil {
				writeBufPool.Put(bp)
				return 0, io.ErrUnexpectedEOF
			}
			fr.recLen = 0
			call, _ := parseCall(buf[4:])
			var handled bool
			if call.proc == nfsProcWrite {
				handled, err = fr.tc.serveWrite(call)
			} else {
				handled, err = fr.tc.serveCommit(call)
			}
			if err != nil {
				writeBufPool.Put(bp)
				return 0, err
			}
			if handled {
				writeBufPool.Put(bp)
				continue
			}
			fr.replay, fr.rbuf = buf, bp
		default:
			fr.pass(size, last)
		}
	}
	if len(fr.replay) > 0 {
		n := copy(p, fr.replay)
		fr.replay = fr.replay[n:]
		return n, nil
	}
	if int64(len(p)) > fr.left {
		p = p[:fr.left]
	}
	n, err := fr.br.Read(p)
	fr.left -= int64(n)
	return n, err
}

// pass hands the next fragment (marker included) to go-nfs.
func (fr *fastReader) pass(size int, last bool) {
	fr.left = int64(size) + 4
	fr.cont = !last
	if last {
		fr.recLen = 0
	}
}

// openRegular opens the regular file a handle names (flag is O_RDONLY or
// O_WRONLY); ok is false when go-nfs must answer instead.
func (tc *trackedConn) openRegular(fh []byte, flag int) (f *os.File, name string, info os.FileInfo, ok bool) {
	bfs, p, err := tc.s.h.FromHandle(fh)
	if err != nil {
		return nil, "", nil, false
	}
	r, isRoot := bfs.(*rootFS)
	if !isRoot {
		return nil, "", nil, false
	}
	name = r.Join(p...)
	if check("open", name) != nil {
		return nil, "", nil, false
	}
	f, err = r.root.OpenFile(name, flag|syscall.O_NONBLOCK, 0) // a FIFO must not block
	if err != nil {
		return nil, "", nil, false
	}
	info, err = f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, "", nil, false
	}
	return f, name, info, true
}

// serveRead answers c when it can; false means go-nfs must.
func (tc *trackedConn) serveRead(c readCall) (bool, error) {
	if c.count > maxFastCount {
		return false, nil
	}
	f, name, info, ok := tc.openRegular(c.fh, os.O_RDONLY)
	if !ok {
		return false, nil
	}
	defer f.Close()
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

	hdr := replyHeader(c.xid, nfs.NFSStatusOk)
	if err := nfs.WritePostOpAttrs(hdr, nfs.ToFileAttribute(info, name)); err != nil {
		return false, nil
	}
	put32(hdr, uint32(n))
	put32(hdr, boolWord(eof))
	put32(hdr, uint32(n))
	return true, tc.reply(hdr, data, make([]byte, (4-n%4)%4))
}

// serveWrite answers a WRITE: the data is written at once; it is synced
// before the answer unless the client asked for UNSTABLE, and the answer
// says which it was.
func (tc *trackedConn) serveWrite(c rpcCall) (bool, error) {
	r := xdrReader{b: c.args}
	fh, off, count, stable, data := r.opaque(), r.u64(), r.u32(), r.u32(), r.opaque()
	if r.bad || len(fh) != handleLen || int(count) > len(data) || stable > stableFileSync || off > 1<<62 {
		return false, nil
	}
	f, name, info, ok := tc.openRegular(fh, os.O_WRONLY)
	if !ok {
		return false, nil
	}
	defer f.Close()
	pre := nfs.ToFileAttribute(info, name).AsCache()
	n, err := f.WriteAt(data[:count], int64(off))
	committed := uint32(stableUnstable)
	if err == nil && stable != stableUnstable {
		err = fdatasync(f)
		committed = stableFileSync
	} else if err == nil {
		startWriteback(f, int64(off), n)
	}
	var post *nfs.FileAttribute
	if st, serr := f.Stat(); serr == nil {
		post = nfs.ToFileAttribute(st, name)
	}
	if err != nil {
		tc.s.log.Warn("nfs write failed", "file", name, "err", err)
		hdr := replyHeader(c.xid, writeErrorStatus(err))
		_ = nfs.WriteWcc(hdr, pre, post)
		return true, tc.reply(hdr)
	}
	hdr := replyHeader(c.xid, nfs.NFSStatusOk)
	if err := nfs.WriteWcc(hdr, pre, post); err != nil {
		return false, nil
	}
	put32(hdr, uint32(n))
	put32(hdr, committed)
	hdr.Write(tc.s.verf[:])
	return true, tc.reply(hdr)
}

// serveCommit answers a COMMIT: the whole file is fsynced.
func (tc *trackedConn) serveCommit(c rpcCall) (bool, error) {
	r := xdrReader{b: c.args}
	fh := r.opaque()
	r.u64()
	r.u32()
	if r.bad || len(fh) != handleLen {
		return false, nil
	}
	f, name, info, ok := tc.openRegular(fh, os.O_RDONLY)
	if !ok {
		return false, nil
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		tc.s.log.Warn("nfs commit failed", "file", name, "err", err)
		hdr := replyHeader(c.xid, writeErrorStatus(err))
		_ = nfs.WriteWcc(hdr, nil, nfs.ToFileAttribute(info, name))
		return true, tc.reply(hdr)
	}
	hdr := replyHeader(c.xid, nfs.NFSStatusOk)
	if err := nfs.WriteWcc(hdr, nil, nfs.ToFileAttribute(info, name)); err != nil {
		return false, nil
	}
	hdr.Write(tc.s.verf[:])
	return true, tc.reply(hdr)
}

// writeErrorStatus is the NFS status of a failed write or sync.
func writeErrorStatus(err error) nfs.NFSStatus {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return nfs.NFSStatusNoSPC
	case errors.Is(err, syscall.EDQUOT):
		return nfs.NFSStatusDQuot
	case errors.Is(err, syscall.EFBIG):
		return nfs.NFSStatusFBig
	case errors.Is(err, syscall.EROFS):
		return nfs.NFSStatusROFS
	case errors.Is(err, os.ErrPermission):
		return nfs.NFSStatusAccess
	}
	return nfs.NFSStatusIO
}

// replyHeader starts an accepted RPC reply with an NFS status; the record
// marker is filled in by reply.
func replyHeader(xid uint32, status nfs.NFSStatus) *bytes.Buffer {
	b := new(bytes.Buffer)
	b.Grow(256)
	for _, v := range []uint32{0, xid, 1 /* REPLY */, 0 /* MSG_ACCEPTED */, 0, 0 /* AUTH_NULL verifier */, 0 /* SUCCESS */, uint32(status)} {
		put32(b, v)
	}
	return b
}

func put32(b *bytes.Buffer, v uint32) { b.Write(binary.BigEndian.AppendUint32(nil, v)) }

func boolWord(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// reply sets the record marker and writes hdr and more with one writev,
// never interleaved with go-nfs's replies.
func (tc *trackedConn) reply(hdr *bytes.Buffer, more ...[]byte) error {
	b := hdr.Bytes()
	size := len(b) - 4
	for _, m := range more {
		size += len(m)
	}
	binary.BigEndian.PutUint32(b, uint32(size)|1<<31)
	bufs := append(net.Buffers{b}, more...)
	tc.wmu.Lock()
	_, err := bufs.WriteTo(tc.Conn)
	tc.wmu.Unlock()
	return err
}

// lockedWriter serializes go-nfs's replies with the interposer's: it
// holds wmu from the first byte of a reply record to its last (go-nfs
// writes a reply in several Writes, through a bufio.Writer).
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
