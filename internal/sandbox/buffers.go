package sandbox

import (
	"bytes"
	"io"
	"sync"
)

// capBuffer keeps the first max bytes written to it and drops the rest.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped bool
}

func (c *capBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room < len(p) {
		c.dropped = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}

// ReadFrom reads r to EOF straight into the buffer, keeping the first max
// bytes and reading and dropping the rest: a command's output needs no
// copy buffer, and a command with little output allocates little (Run of
// `true` allocates nothing here).
func (c *capBuffer) ReadFrom(r io.Reader) (int64, error) {
	n, err := c.buf.ReadFrom(io.LimitReader(r, int64(c.max-c.buf.Len())))
	if err != nil || c.buf.Len() < c.max {
		return n, err
	}
	m, err := io.Copy(io.Discard, r)
	if m > 0 {
		c.dropped = true
	}
	return n + m, err
}

// headBuffer keeps the first max bytes written to it; safe for concurrent use.
type headBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if room := h.max - h.buf.Len(); room > 0 {
		if len(p) > room {
			h.buf.Write(p[:room])
		} else {
			h.buf.Write(p)
		}
	}
	return len(p), nil
}

func (h *headBuffer) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(bytes.TrimSpace(h.buf.Bytes()))
}
