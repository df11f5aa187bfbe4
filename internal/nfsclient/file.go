package nfsclient

import (
	"io"
	"sync/atomic"
)

// File is an open regular file of a session: positional reads through
// the cache, sequential reads with read-ahead, and buffered writes sent
// as UNSTABLE WRITEs and committed by Sync and Close.
//
// Consistency is close-to-open, as with the kernel client: opening a
// file (its LOOKUP) and Stat fetch fresh attributes and drop cached data
// of a file that changed; within an open file, cached data is trusted for
// Options.AttrTimeout before the attributes are checked again; the
// session's own writes are seen at once by its reads; other clients see
// them once Sync or Close returns.
//
// A File is not safe for concurrent use, except ReadAt.
type File struct {
	c     *Client
	parts []string // the file's path, to find it again after a server restart

	fh atomic.Pointer[[]byte]

	size int64 // the largest size seen: read-ahead stops there
	ra   readAhead
	hot  hotExtent // where the last Read from the cache found its data
	wb   writeback
}

// OpenFile returns a File for the handle fh of the regular file at the
// path parts, whose attributes are a.
func (c *Client) OpenFile(fh []byte, parts []string, a *Attr) *File {
	f := &File{c: c, parts: append([]string(nil), parts...)}
	f.fh.Store(&fh)
	if a != nil {
		f.size = int64(a.Filesize)
	}
	f.wb.sem = make(chan struct{}, c.opts.Writes)
	f.wb.committing = make(chan struct{}, 1)
	return f
}

// handle returns the file's current handle.
func (f *File) handle() []byte { return *f.fh.Load() }

// refresh finds the file again by its path (after a server restart made
// its handle stale).
func (f *File) refresh() error {
	fh, a, err := f.c.Walk(f.parts)
	if err != nil && (isStale(err) || IsConnError(err)) {
		// The walk started from the root handle of the connection that
		// just broke; the redial has a new one.
		fh, a, err = f.c.Walk(f.parts)
	}
	if err != nil {
		return err
	}
	f.fh.Store(&fh)
	f.size = max(f.size, int64(a.Filesize))
	return nil
}

// GetAttr returns fresh attributes (after sending buffered writes).
func (f *File) GetAttr() (*Attr, error) {
	f.Flush()
	return f.c.GetAttr(f.handle())
}

// ReadAt reads len(p) bytes at off; n < len(p) only with an error, which
// is io.EOF at the end of the file. Small reads go through the cache;
// reads of a READ size or more are sent as parallel READs. Buffered
// writes are sent first. Safe for concurrent use.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f.flushForRead()
	fh := f.handle()
	var n int
	var eof bool
	var err error
	if len(p) >= int(f.c.rsize) || !f.c.cache.enabled() {
		n, eof, err = f.c.readInto(fh, p, off)
	} else {
		n, eof, err = f.c.readCached(fh, p, off)
	}
	if err == nil && n < len(p) && eof {
		err = io.EOF
	}
	return n, err
}

// Close commits the file's writes (see Sync) and stops its read-ahead;
// it returns the first write error of the file, if any.
func (f *File) Close() error {
	err := f.Sync()
	f.ra.reset()
	return err
}
