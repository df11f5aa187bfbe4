package nfsclient

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// read1 sends one READ of up to count bytes at off. data is a slice of the
// reply (not copied); eof is the server's end-of-file flag; attr is the
// post-op attributes when the server sent them.
func (c *Client) read1(fh []byte, off int64, count int) (data []byte, eof bool, attr *Attr, err error) {
	var args [12]byte
	binary.BigEndian.PutUint64(args[0:], uint64(off))
	binary.BigEndian.PutUint32(args[8:], uint32(count))
	res, err := c.nfs(procRead, fh, encoded(args[:]))
	if err != nil {
		return nil, false, nil, err
	}
	r := bytes.NewReader(res)
	var head struct {
		Attr  postOpAttr
		Count uint32
		EOF   uint32
		Len   uint32
	}
	if err := xdr.Read(r, &head); err != nil {
		return nil, false, nil, err
	}
	start := len(res) - r.Len()
	if head.Len > uint32(count) || int(head.Len) > r.Len() {
		return nil, false, nil, fmt.Errorf("nfs read: server sent %d bytes for %d", head.Len, count)
	}
	if head.Attr.IsSet {
		attr = &head.Attr.Attr
	}
	return res[start : start+int(head.Len) : start+int(head.Len)], head.EOF != 0, attr, nil
}

// errNoProgress is a READ that returned nothing without end of file.
var errNoProgress = errors.New("nfs read: server returned no data")

// readInto fills p from off with READs of up to rsize bytes, up to
// Options.ReadAhead in flight. n < len(p) only at the end of the file
// (eof) or with an error. Each READ's data goes to the cache when it
// starts on a block boundary.
func (c *Client) readInto(fh []byte, p []byte, off int64) (n int, eof bool, err error) {
	rsize := int(c.rsize)
	if len(p) <= rsize {
		return c.readSeq(fh, p, off)
	}
	type result struct {
		n   int
		eof bool
		err error
	}
	nchunks := (len(p) + rsize - 1) / rsize
	results := make([]result, nchunks)
	sem := make(chan struct{}, c.opts.ReadAhead)
	var wg sync.WaitGroup
	for i := range nchunks {
		lo := i * rsize
		hi := min(lo+rsize, len(p))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			n, eof, err := c.readSeq(fh, p[lo:hi], off+int64(lo))
			results[i] = result{n, eof, err}
		}()
	}
	wg.Wait()
	for i, r := range results {
		n += r.n
		if r.err != nil {
			return n, false, r.err
		}
		if r.n < min(rsize, len(p)-i*rsize) {
			return n, true, nil
		}
	}
	return n, false, nil
}

// readSeq fills p (at most a few rsize) from off with consecutive READs.
func (c *Client) readSeq(fh []byte, p []byte, off int64) (n int, eof bool, err error) {
	return c.readRange(fh, p, off, false)
}

// readCached fills p from off through the cache: cached blocks are copied,
// missing ones are read in whole blocks (a 4 KiB ReadAt asks for 4 KiB,
// not a read-ahead window) and kept. The file's attributes are revalidated
// first when they are older than the attribute timeout.
func (c *Client) readCached(fh []byte, p []byte, off int64) (n int, eof bool, err error) {
	checked := false
	for n < len(p) {
		k, eof, stale := c.cache.get(fh, p[n:], off+int64(n), checked, nil)
		if stale {
			// Revalidate: old attributes, or an end of file that may
			// have moved (this drops the blocks if the file changed).
			if _, err := c.GetAttr(fh); err != nil {
				return n, false, err
			}
			checked = true
			continue
		}
		n += k
		if eof || n == len(p) {
			return n, eof, nil
		}
		pos := off + int64(n)
		lo := pos &^ (blockSize - 1)
		hi := (off + int64(len(p)) + blockSize - 1) &^ (blockSize - 1)
		// read up to the next cached block only
		for idx := lo/blockSize + 1; idx*blockSize < hi; idx++ {
			if c.cache.has(fh, idx) {
				hi = idx * blockSize
				break
			}
		}
		buf := make([]byte, hi-lo)
		m, eof, err := c.readMiss(fh, buf, lo)
		if m > int(pos-lo) {
			n += copy(p[n:], buf[pos-lo:m])
		}
		if err != nil || eof {
			return n, eof && n < len(p), err
		}
	}
	return n, false, nil
}

// readMiss reads whole blocks at lo (a block boundary) into buf and caches
// them.
func (c *Client) readMiss(fh []byte, buf []byte, lo int64) (int, bool, error) {
	return c.readRange(fh, buf, lo, true)
}

// readRange fills p from off with consecutive READs of at most rsize each.
// With keep, each answer's data (and attributes) go into the block cache;
// without, only the attributes refresh it.
func (c *Client) readRange(fh []byte, p []byte, off int64, keep bool) (n int, eof bool, err error) {
	for n < len(p) {
		data, eof, attr, err := c.read1(fh, off+int64(n), min(len(p)-n, int(c.rsize)))
		if err != nil {
			return n, false, err
		}
		if keep {
			c.cache.put(fh, off+int64(n), data, eof, attr)
		} else if attr != nil {
			c.cache.observe(fh, attr)
		}
		k := copy(p[n:], data)
		n += k
		if eof {
			return n, true, nil
		}
		if k == 0 {
			return n, false, errNoProgress
		}
	}
	return n, false, nil
}
