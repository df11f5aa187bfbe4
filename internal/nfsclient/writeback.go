package nfsclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"

	nfs "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// WRITE stability levels (stable_how).
const (
	unstable = 0
	fileSync = 2
)

// commitEvery bounds the uncommitted bytes a File keeps to resend: past
// it, Write commits before going on.
const commitEvery = 16 << 20

// errRestarts is a COMMIT that kept finding a new server instance.
var errRestarts = errors.New("nfs commit: the server restarted again while its uncommitted data was resent")

// writeback is the write pipeline of a File, as the kernel client does
// it: writes are gathered into WRITEs of the write size, sent UNSTABLE
// with up to Options.Writes in flight, and kept until a COMMIT answered
// with the same write verifier as every WRITE proves them on disk. A
// changed verifier (the server restarted and may have lost them), a lost
// connection or a stale handle resends them. The first error of any
// WRITE or COMMIT is sticky: every later Write, Flush, Sync and Close
// returns it.
type writeback struct {
	gmu    sync.Mutex // guards buf and bufOff (ReadAts may flush concurrently)
	buf    []byte     // gathered, not yet sent
	bufOff int64
	dirty  atomic.Bool // bytes gathered or WRITEs in flight since the last Flush
	sem    chan struct{}
	wg     sync.WaitGroup

	committing chan struct{} // holds a token while commitBehind runs

	mu      sync.Mutex
	err     error
	verf    [8]byte
	verfSet bool
	resend  bool   // some WRITE may not have reached the current server
	spans   []span // sent, not yet committed
	pending int64  // bytes in spans
}

// writeBufs recycles the gather buffers of committed spans (1 MiB each:
// fresh ones cost page faults and garbage collection at disk speed).
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, MaxIOSize); return &b }}

func getWriteBuf(size int) []byte {
	if size != MaxIOSize {
		return make([]byte, 0, size)
	}
	return (*writeBufs.Get().(*[]byte))[:0]
}

func putWriteBuf(b []byte) {
	if cap(b) == MaxIOSize {
		b = b[:0]
		writeBufs.Put(&b)
	}
}

// span is a range sent in one WRITE.
type span struct {
	off  int64
	data []byte
}

func (wb *writeback) sticky() error {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return wb.err
}

func (wb *writeback) fail(err error) {
	wb.mu.Lock()
	if wb.err == nil {
		wb.err = err
	}
	wb.mu.Unlock()
}

// Write writes p at off: it is gathered and sent in the background. The
// error is a sticky error of an earlier WRITE, if any.
func (f *File) Write(p []byte, off int64) (int, error) {
	if err := f.wb.sticky(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	f.ra.reset()
	f.c.cache.forget(f.handle())
	wb := &f.wb
	wsize := int(f.c.wsize)
	wb.dirty.Store(true)
	wb.gmu.Lock()
	defer wb.gmu.Unlock()
	if len(wb.buf) > 0 && off != wb.bufOff+int64(len(wb.buf)) {
		f.sendLocked()
	}
	n := 0
	for n < len(p) {
		if len(wb.buf) == 0 {
			wb.bufOff = off + int64(n)
			wb.buf = getWriteBuf(wsize)
		}
		k := min(len(p)-n, wsize-len(wb.buf))
		wb.buf = append(wb.buf, p[n:n+k]...)
		n += k
		if len(wb.buf) == wsize {
			f.sendLocked()
		}
	}
	f.size = max(f.size, off+int64(n))
	wb.mu.Lock()
	over := wb.pending > commitEvery
	wb.mu.Unlock()
	if over {
		f.commitBehind()
	}
	return n, f.wb.sticky()
}

// commitBehind COMMITs, in the background, the spans whose WRITEs were
// answered, so a long stream keeps going while the server syncs and its
// spans can be let go. At most one runs at a time; Sync waits for it.
// When the verifier differs, nothing is let go and Sync resends.
func (f *File) commitBehind() {
	wb := &f.wb
	select {
	case wb.committing <- struct{}{}:
	default:
		return // one is running
	}
	// Wait for the WRITEs in flight (the gathered buffer keeps filling).
	wb.wg.Wait()
	wb.mu.Lock()
	if wb.resend || !wb.verfSet || wb.err != nil {
		wb.mu.Unlock()
		<-wb.committing
		return
	}
	done, verf := len(wb.spans), wb.verf
	wb.mu.Unlock()
	fh := f.handle()
	go func() {
		defer func() { <-wb.committing }()
		got, err := f.c.commit(fh)
		wb.mu.Lock()
		defer wb.mu.Unlock()
		switch {
		case err != nil || got != verf || wb.resend:
			wb.resend = true // Sync finds out what happened and resends
		default:
			for _, s := range wb.spans[:done] {
				wb.pending -= int64(len(s.data))
				putWriteBuf(s.data)
			}
			wb.spans = append(wb.spans[:0:0], wb.spans[done:]...)
		}
	}()
}

// send starts an UNSTABLE WRITE of the gathered bytes.
func (f *File) send() {
	f.wb.gmu.Lock()
	defer f.wb.gmu.Unlock()
	f.sendLocked()
}

func (f *File) sendLocked() {
	wb := &f.wb
	if len(wb.buf) == 0 {
		return
	}
	s := span{wb.bufOff, wb.buf}
	wb.buf = nil
	wb.mu.Lock()
	wb.spans = append(wb.spans, s)
	wb.pending += int64(len(s.data))
	wb.mu.Unlock()
	f.start(s, unstable)
}

// start sends s in the background once a slot is free.
func (f *File) start(s span, stable uint32) {
	wb := &f.wb
	wb.sem <- struct{}{}
	wb.wg.Add(1)
	go func() {
		defer wb.wg.Done()
		defer func() { <-wb.sem }()
		f.writeSpan(s, stable)
	}()
}

// writeSpan WRITEs s (in several WRITEs if the server writes less).
func (f *File) writeSpan(s span, stable uint32) {
	wb := &f.wb
	fh := f.handle()
	done := 0
	for done < len(s.data) {
		n, verf, wcc, err := f.c.write(fh, s.off+int64(done), s.data[done:], stable)
		if err != nil {
			f.c.cache.forget(fh)
			if IsConnError(err) || isStale(err) {
				wb.mu.Lock()
				wb.resend = true // COMMIT finds the file again and resends
				wb.mu.Unlock()
				return
			}
			wb.fail(err)
			return
		}
		f.c.cache.wrote(fh, s.off+int64(done), n, wcc)
		wb.mu.Lock()
		if !wb.verfSet {
			wb.verf, wb.verfSet = verf, true
		} else if verf != wb.verf {
			wb.resend = true
		}
		wb.mu.Unlock()
		if n == 0 {
			wb.fail(io.ErrShortWrite)
			return
		}
		done += n
	}
}

// Flush sends the gathered bytes and waits for every WRITE in flight; it
// returns the sticky error, if any. The data is on the server but not
// necessarily on its disk (see Sync).
func (f *File) Flush() error {
	f.flushForRead()
	return f.wb.sticky()
}

// flushForRead sends the gathered bytes and waits for the WRITEs in
// flight, so that reads see them; it costs nothing when there are none.
func (f *File) flushForRead() {
	if !f.wb.dirty.Load() {
		return
	}
	f.send()
	f.wb.wg.Wait()
	f.wb.gmu.Lock()
	if len(f.wb.buf) == 0 {
		f.wb.dirty.Store(false)
	}
	f.wb.gmu.Unlock()
}

// Sync sends what is buffered, waits for every WRITE and COMMITs them:
// when it returns nil the file's writes are on the server's disk. When
// the server restarted since a WRITE (its verifier changed, or the
// connection or handle was lost), the uncommitted data is sent again
// first.
func (f *File) Sync() error {
	f.wb.committing <- struct{}{} // wait for a background COMMIT
	<-f.wb.committing
	if err := f.Flush(); err != nil {
		return err
	}
	wb := &f.wb
	for attempt := 0; attempt < 4; attempt++ {
		wb.mu.Lock()
		if len(wb.spans) == 0 {
			wb.mu.Unlock()
			return nil
		}
		wb.mu.Unlock()
		verf, err := f.c.commit(f.handle())
		if err != nil && (IsConnError(err) || isStale(err)) {
			if err = f.refresh(); err == nil {
				wb.mu.Lock()
				wb.resend = true
				wb.mu.Unlock()
				continue
			}
		}
		if err != nil {
			wb.fail(err)
			return err
		}
		wb.mu.Lock()
		if !wb.resend && wb.verfSet && verf == wb.verf {
			for _, s := range wb.spans {
				putWriteBuf(s.data)
			}
			wb.spans, wb.pending, wb.verfSet = nil, 0, false
			wb.mu.Unlock()
			return nil
		}
		// The server may have lost what it had not committed: send it all
		// again under the new verifier, then COMMIT again.
		spans := wb.spans
		wb.resend, wb.verfSet = false, false
		wb.mu.Unlock()
		f.wb.dirty.Store(true)
		for _, s := range spans {
			f.start(s, unstable)
		}
		if err := f.Flush(); err != nil {
			return err
		}
	}
	wb.fail(errRestarts)
	return errRestarts
}

// write sends one WRITE of up to wsize bytes of data at off and returns
// how many the server wrote, its write verifier and the file's wcc data.
func (c *Client) write(fh []byte, off int64, data []byte, stable uint32) (int, [8]byte, *nfs.WccData, error) {
	var verf [8]byte
	data = data[:min(len(data), int(c.wsize))]
	head := xdrOpaque(fh)
	var args [20]byte
	be := binary.BigEndian
	be.PutUint64(args[0:], uint64(off))
	be.PutUint32(args[8:], uint32(len(data)))
	be.PutUint32(args[12:], stable)
	be.PutUint32(args[16:], uint32(len(data)))
	pad := make([]byte, (4-len(data)%4)%4)
	res, err := c.nfs(procWrite, head, encoded(args[:]), encoded(data), encoded(pad))
	if err != nil {
		return 0, verf, nil, err
	}
	var r struct {
		Wcc       nfs.WccData
		Count     uint32
		Committed uint32
		Verf      [8]byte
	}
	if err := xdr.Read(bytes.NewReader(res), &r); err != nil {
		return 0, verf, nil, err
	}
	return int(min(r.Count, uint32(len(data)))), r.Verf, &r.Wcc, nil
}

// commit sends COMMIT for the whole file and returns the write verifier.
func (c *Client) commit(fh []byte) ([8]byte, error) {
	var verf [8]byte
	res, err := c.nfs(procCommit, fh, uint64(0), uint32(0))
	if err != nil {
		return verf, err
	}
	var r struct {
		Wcc  nfs.WccData
		Verf [8]byte
	}
	if err := xdr.Read(bytes.NewReader(res), &r); err != nil {
		return verf, err
	}
	if r.Wcc.After.IsSet {
		c.cache.observe(fh, &r.Wcc.After.Attr)
	}
	return r.Verf, nil
}
