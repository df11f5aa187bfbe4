//go:build !windows

package server

import (
	"context"
	"errors"
	"sync"
	"time"
)

// PTY limits and defaults.
const (
	// DefaultPTYPingInterval is how often an attached PTY socket is pinged;
	// a peer that does not answer within the interval is dropped (the PTY
	// stays, detached).
	DefaultPTYPingInterval = 30 * time.Second
	// ptyBacklog bounds the output kept while no socket is attached; the
	// oldest bytes are dropped beyond it.
	ptyBacklog = 1 << 20
	// ptyChunk bounds the output gathered into one binary frame.
	ptyChunk = 64 << 10
	// maxPTYsPerSandbox bounds the PTYs of one sandbox (429/4102 beyond).
	maxPTYsPerSandbox = 64
	// ptyDrainGrace is how long output may still arrive after the shell
	// exited (e.g. from a background job holding the terminal) before the
	// master is closed.
	ptyDrainGrace = 500 * time.Millisecond
)

var errPTYLimit = errors.New("too many PTYs in this sandbox")

// ptyTable holds the PTYs of every sandbox. Safe for concurrent use.
type ptyTable struct {
	mu   sync.Mutex
	ptys map[string]*ptyEntry // by PTY id
}

func newPTYTable() *ptyTable { return &ptyTable{ptys: map[string]*ptyEntry{}} }

// ptyEntry is one PTY: its shell, its output pump, and the socket attached
// to it (at most one).
type ptyEntry struct {
	id        string
	sandboxID string
	pty       *PTY

	exited  chan struct{} // closed once the shell exited and all its output was handed on
	removed chan struct{} // closed when the entry leaves the table
	rmOnce  sync.Once

	mu       sync.Mutex
	att      *ptyAttachment // current socket, nil while detached
	backlog  []byte         // output produced while detached (<= ptyBacklog)
	exitCode int
}

// ptyAttachment is one WebSocket attached to a PTY.
type ptyAttachment struct {
	out  chan []byte   // output chunks from the pump (unbuffered: back-pressure)
	gone chan struct{} // closed when the socket is done or replaced
	once sync.Once
}

func (a *ptyAttachment) detach() { a.once.Do(func() { close(a.gone) }) }

// open starts a shell on a new PTY in sb and registers it; the entry is
// forgotten when the sandbox ends.
func (t *ptyTable) open(ctx context.Context, sandboxID string, sb SandboxRuntime, req PTYRequest) (*ptyEntry, error) {
	t.mu.Lock()
	n := 0
	for _, e := range t.ptys {
		if e.sandboxID == sandboxID {
			n++
		}
	}
	t.mu.Unlock()
	if n >= maxPTYsPerSandbox {
		return nil, errPTYLimit
	}
	p, err := sb.OpenPTY(ctx, req)
	if err != nil {
		return nil, err
	}
	e := &ptyEntry{id: newID(), sandboxID: sandboxID, pty: p, exited: make(chan struct{}), removed: make(chan struct{})}
	t.mu.Lock()
	t.ptys[e.id] = e
	t.mu.Unlock()
	go func() {
		e.pump()
		// An exited PTY stays (so that a socket attached later still gets
		// its output and exit status) until it is killed, its exit was
		// delivered, or its sandbox ends.
		select {
		case <-sb.Done():
			t.remove(sandboxID, e.id)
		case <-e.removed:
		}
	}()
	return e, nil
}

// get returns the PTY id of sandbox sandboxID, or nil.
func (t *ptyTable) get(sandboxID, id string) *ptyEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookupLocked(sandboxID, id)
}

// remove forgets PTY id of sandbox sandboxID and returns it (nil if absent).
func (t *ptyTable) remove(sandboxID, id string) *ptyEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.lookupLocked(sandboxID, id)
	if e == nil {
		return nil
	}
	delete(t.ptys, id)
	e.markRemoved()
	return e
}

// lookupLocked returns the PTY id if it belongs to sandbox sandboxID, or
// nil; t.mu is held.
func (t *ptyTable) lookupLocked(sandboxID, id string) *ptyEntry {
	if e := t.ptys[id]; e != nil && e.sandboxID == sandboxID {
		return e
	}
	return nil
}

func (e *ptyEntry) markRemoved() { e.rmOnce.Do(func() { close(e.removed) }) }

func (e *ptyEntry) detach(a *ptyAttachment) {
	a.detach()
	e.mu.Lock()
	if e.att == a {
		e.att = nil
	}
	e.mu.Unlock()
}

// list returns the PTYs of sandbox sandboxID.
func (t *ptyTable) list(sandboxID string) []*ptyEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	var es []*ptyEntry
	for _, e := range t.ptys {
		if e.sandboxID == sandboxID {
			es = append(es, e)
		}
	}
	return es
}
