package nfsclient

import (
	"io"
	"time"
)

// readAhead is the read-ahead window of a File: READs of rsize bytes at
// consecutive offsets, the first one partly consumed. A sequential Read,
// however small its buffer, is served from it; the window grows from one
// READ to Options.ReadAhead as the reads stay sequential.
type readAhead struct {
	q      []*raChunk
	pos    int // bytes of q[0] already returned
	window int // READs to keep in flight
}

// raChunk is one READ of the window.
type raChunk struct {
	off  int64
	want int
	data []byte
	eof  bool
	err  error
	done chan struct{}
}

// Read reads up to len(p) bytes at off, for a caller reading the file in
// order: from the window when off is where the last Read ended, else from
// the cache, else it starts a new window at off. It returns io.EOF only
// with n == 0.
func (f *File) Read(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	f.flushForRead()
	ra := &f.ra
	if len(ra.q) > 0 && ra.q[0].off+int64(ra.pos) != off {
		ra.reset()
	}
	fh := f.handle()
	total := 0
	if len(ra.q) == 0 {
		total = f.readHot(p, off)
	}
	checked := false
	for total < len(p) {
		pos := off + int64(total)
		if len(ra.q) == 0 {
			if f.c.cache.enabled() {
				n, eof, stale := f.c.cache.get(fh, p[total:], pos, checked, &f.hot)
				if stale {
					// Revalidate: old attributes, or an end of file that
					// may have moved.
					if _, err := f.c.GetAttr(fh); err != nil {
						return total, err
					}
					checked = true
					continue
				}
				total += n
				if n > 0 {
					continue
				}
				if eof {
					break
				}
			}
			rsize := int(f.c.rsize)
			ra.window = max(ra.window, min(f.c.opts.ReadAhead, (len(p)-total+rsize-1)/rsize))
			f.fill(pos &^ (blockSize - 1))
			ra.pos = int(pos - ra.q[0].off)
		}
		c := ra.q[0]
		<-c.done
		if c.err != nil {
			ra.reset()
			if total > 0 {
				return total, nil
			}
			return 0, c.err
		}
		if ra.pos < len(c.data) {
			k := copy(p[total:], c.data[ra.pos:])
			ra.pos += k
			total += k
			if ra.pos < len(c.data) {
				break // p is full
			}
		}
		// c is consumed.
		f.size = max(f.size, c.off+int64(len(c.data)))
		if c.eof {
			ra.reset()
			break
		}
		if len(c.data) < c.want {
			// A short READ: start again where it ended.
			ra.reset()
			if len(c.data) == 0 {
				if total > 0 {
					return total, nil
				}
				return 0, errNoProgress
			}
			continue
		}
		ra.pop()
		ra.window = min(f.c.opts.ReadAhead, max(1, ra.window*2))
		f.fill(c.off + int64(len(c.data)))
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// readHot copies what it can from the hot extent (see hotExtent) for a
// Read at off, stopping short of the end of the file (which the cache
// path revalidates); 0 when the extent does not serve off.
func (f *File) readHot(p []byte, off int64) int {
	h := &f.hot
	if h.data == nil || off < h.off || off >= h.off+int64(len(h.data)) || f.c.cache.gen.Load() != h.gen {
		return 0
	}
	in := int(off - h.off)
	if h.eof && in+len(p) >= len(h.data) {
		return 0
	}
	if h.unread <= 0 {
		if time.Since(h.checked) >= f.c.cache.attrTTL {
			return 0
		}
		h.unread = blockSize
	}
	n := copy(p, h.data[in:])
	h.unread -= n
	return n
}

// fill sends READs until the window is full, the first at start when the
// window is empty; past the known size of the file only the first is
// sent, and a READ near the end asks for what is left (at least a block).
func (f *File) fill(start int64) {
	ra := &f.ra
	fh := f.handle()
	rsize := int64(f.c.rsize)
	for len(ra.q) < max(ra.window, 1) {
		off := start
		if n := len(ra.q); n > 0 {
			last := ra.q[n-1]
			off = last.off + int64(last.want)
			if off >= f.size {
				return
			}
		}
		want := int(min(rsize, max(f.size-off, blockSize)))
		c := &raChunk{off: off, want: want, done: make(chan struct{})}
		go func() {
			defer close(c.done)
			var attr *Attr
			c.data, c.eof, attr, c.err = f.c.read1(fh, off, want)
			if c.err == nil {
				f.c.cache.put(fh, off, c.data, c.eof, attr)
			}
		}()
		ra.q = append(ra.q, c)
	}
}

// pop drops the consumed first READ.
func (ra *readAhead) pop() {
	ra.q[0] = nil
	ra.q = ra.q[1:]
	ra.pos = 0
}

// reset waits for the READs in flight and drops the window.
func (ra *readAhead) reset() {
	for _, c := range ra.q {
		<-c.done
	}
	ra.q, ra.pos, ra.window = nil, 0, 0
}
