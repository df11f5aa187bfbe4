//go:build !windows

package server

import (
	"errors"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// Defaults of the process.detach table (Config fields of the same names).
const (
	// DefaultProcessOutputBytes is the output a detached process keeps
	// for replay; it is also the minimum (PROTOCOL.md: at least 1 MiB).
	DefaultProcessOutputBytes = 1 << 20
	// DefaultProcessRetainBytes caps the output all detached processes of
	// the server keep together.
	DefaultProcessRetainBytes = 256 << 20
	// DefaultProcessRetention is how long an exited detached process stays
	// listed.
	DefaultProcessRetention = 10 * time.Minute
)

// eventOverhead is what one retained event costs beyond its data, so that
// many tiny events are bounded too.
const eventOverhead = 64

// evictLogMax bounds how many evicted events a process remembers to size
// the gap of a resume exactly; older resume points get a lower bound.
const evictLogMax = 1 << 16

// errProcessBudget: the server-wide output budget is used by other
// processes (429/2005).
var errProcessBudget = errors.New("the server's output budget for detached processes is used up")

// procTable is the server's table of detached processes, per sandbox. Each
// process reserves its output ring (outBytes) from the server-wide budget
// (capBytes) when it starts and gives it back when it is forgotten: after
// retention once exited, or when its sandbox ends.
type procTable struct {
	outBytes  int64
	capBytes  int64
	retention time.Duration

	mu        sync.Mutex
	reserved  int64
	bySandbox map[string]map[int]*detachedProc
}

func newProcTable(cfg Config) *procTable {
	t := &procTable{
		outBytes:  max(cfg.ProcessOutputBytes, DefaultProcessOutputBytes),
		capBytes:  cfg.ProcessRetainBytes,
		retention: cfg.ProcessRetention,
		bySandbox: map[string]map[int]*detachedProc{},
	}
	if t.capBytes <= 0 {
		t.capBytes = DefaultProcessRetainBytes
	}
	if t.retention <= 0 {
		t.retention = DefaultProcessRetention
	}
	return t
}

// reserve takes one process's ring from the budget, forgetting the oldest
// exited processes when that makes room. The caller must add or release.
func (t *procTable) reserve() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(time.Now())
	for t.reserved+t.outBytes > t.capBytes {
		var oldest *detachedProc
		for _, procs := range t.bySandbox {
			for _, p := range procs {
				if end, ok := p.ended(); ok {
					if o, _ := oldestEnd(oldest); oldest == nil || end.Before(o) {
						oldest = p
					}
				}
			}
		}
		if oldest == nil {
			return errProcessBudget
		}
		t.removeLocked(oldest)
	}
	t.reserved += t.outBytes
	return nil
}

func oldestEnd(p *detachedProc) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	return p.ended()
}

// release gives back a reservation that was not used.
func (t *procTable) release() {
	t.mu.Lock()
	t.reserved -= t.outBytes
	t.mu.Unlock()
}

// add records a started process (its ring was reserved). A process that
// had the same pid before is forgotten. first reports whether it is the
// only process of its sandbox in the table.
func (t *procTable) add(p *detachedProc) (first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	procs := t.bySandbox[p.sandboxID]
	if procs == nil {
		procs = map[int]*detachedProc{}
		t.bySandbox[p.sandboxID] = procs
		first = true
	}
	if old := procs[p.pid]; old != nil {
		t.removeLocked(old)
	}
	procs[p.pid] = p
	return first
}

// get returns the process pid of a sandbox, or nil.
func (t *procTable) get(sandboxID string, pid int) *detachedProc {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(time.Now())
	return t.bySandbox[sandboxID][pid]
}

// list returns the processes of a sandbox, oldest first.
func (t *procTable) list(sandboxID string) []*detachedProc {
	t.mu.Lock()
	t.pruneLocked(time.Now())
	var out []*detachedProc
	for _, p := range t.bySandbox[sandboxID] {
		out = append(out, p)
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b *detachedProc) int {
		if c := a.startedAt.Compare(b.startedAt); c != 0 {
			return c
		}
		return a.pid - b.pid
	})
	return out
}

// dropSandbox forgets every process of an ended sandbox.
func (t *procTable) dropSandbox(sandboxID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.bySandbox[sandboxID] {
		t.removeLocked(p)
	}
}

// pruneLocked forgets processes that exited more than retention ago.
func (t *procTable) pruneLocked(now time.Time) {
	for _, procs := range t.bySandbox {
		for _, p := range procs {
			if end, ok := p.ended(); ok && now.Sub(end) > t.retention {
				t.removeLocked(p)
			}
		}
	}
}

func (t *procTable) removeLocked(p *detachedProc) {
	procs := t.bySandbox[p.sandboxID]
	if procs[p.pid] != p {
		return
	}
	delete(procs, p.pid)
	if len(procs) == 0 {
		delete(t.bySandbox, p.sandboxID)
	}
	t.reserved -= t.outBytes
}

// detachedProc is one detached process: what it was started with, and a
// ring of its output events that readers replay and follow.
type detachedProc struct {
	sandboxID string
	pid       int
	command   string
	args      []string
	cwd       string
	startedAt time.Time
	proc      *Process
	openStdin bool
	limit     int64 // bytes of retained events

	mu       sync.Mutex
	endedAt  time.Time
	exitCode *int
	events   []procEvent // retained, oldest first
	size     int64       // cost of events
	nextID   int64
	total    int64       // data bytes emitted so far
	evictLog []procEvent // id and off of evicted events (no data), oldest first
	done     bool        // the last event (exit or error) is in
	wake     chan struct{}
	readers  map[*int64]struct{} // id of the last event each attached reader sent
	held     *int64              // the placeholder reader of a "follow" start, until a reader attaches
	progress chan struct{}       // closed and replaced when a reader moves or leaves
}

// procEvent is one event of a detached process's stream.
type procEvent struct {
	id   int64
	typ  string // wire.Event* name
	data []byte // stdout, stderr
	off  int64  // data bytes emitted before this event
	code int    // exit status (exit), protocol code (error)
	msg  string // error
	pid  int    // start
}

func (e *procEvent) cost() int64 { return int64(len(e.data)) + eventOverhead }

// readerStall bounds how long output waits for an attached reader that is
// behind; then the reader stops pacing the process and the oldest events
// are dropped (the reader sees a gap).
const readerStall = 30 * time.Second

// append adds an event with the next id, evicting the oldest events beyond
// the ring's limit, and wakes the readers. While a reader is attached and
// has not sent the events that would be evicted, append waits for it (up
// to readerStall), so that a followed process is paced by its reader as
// with a pipe; with no reader attached the oldest output is dropped.
func (p *detachedProc) append(ev procEvent) {
	var stall <-chan time.Time
	p.mu.Lock()
	for p.readerBehindLocked(p.evictedByLocked(ev.cost())) {
		ch := p.progress
		p.mu.Unlock()
		if stall == nil {
			t := time.NewTimer(readerStall)
			defer t.Stop()
			stall = t.C
		}
		timedOut := false
		select {
		case <-ch:
		case <-stall:
			timedOut = true
		}
		p.mu.Lock()
		if timedOut {
			// Readers this far behind no longer pace the process: they
			// will see a gap.
			last := p.evictedByLocked(ev.cost())
			for pos := range p.readers {
				if *pos < last {
					delete(p.readers, pos)
				}
			}
			break
		}
	}
	defer p.mu.Unlock()
	p.nextID++
	ev.id, ev.off = p.nextID, p.total
	p.total += int64(len(ev.data))
	p.events = append(p.events, ev)
	p.size += ev.cost()
	for p.size > p.limit && len(p.events) > 1 {
		old := p.events[0]
		p.events[0] = procEvent{}
		p.events = p.events[1:]
		p.size -= old.cost()
		if len(p.evictLog) >= evictLogMax {
			p.evictLog = append(p.evictLog[:0], p.evictLog[evictLogMax/2:]...)
		}
		p.evictLog = append(p.evictLog, procEvent{id: old.id, off: old.off})
	}
	if ev.typ == wire.EventExit || ev.typ == wire.EventError {
		p.done = true
	}
	close(p.wake)
	p.wake = make(chan struct{})
}

// evictedByLocked returns the id of the last event that adding an event
// of the given cost would evict (0: none).
func (p *detachedProc) evictedByLocked(cost int64) int64 {
	size, id := p.size+cost, int64(0)
	for i := 0; size > p.limit && i < len(p.events); i++ {
		size -= p.events[i].cost()
		id = p.events[i].id
	}
	return id
}

// readerBehindLocked reports whether an attached reader has not yet sent
// event id.
func (p *detachedProc) readerBehindLocked(id int64) bool {
	for pos := range p.readers {
		if *pos < id {
			return true
		}
	}
	return false
}

// attach registers a reader positioned after event id last; the reader
// moves it with moved and must call detach.
func (p *detachedProc) attach(last int64) *int64 {
	pos := &last
	p.mu.Lock()
	if p.readers == nil {
		p.readers = map[*int64]struct{}{}
	}
	p.readers[pos] = struct{}{}
	if p.held != nil {
		delete(p.readers, p.held)
		p.held = nil
	}
	p.mu.Unlock()
	return pos
}

// holdForReader makes the output wait for the first reader (at most
// readerStall once the ring is full), as if one were attached from the
// start: a caller that follows at once loses nothing.
func (p *detachedProc) holdForReader() {
	p.held = p.attach(0)
}

// moved records that a reader sent every event up to id.
func (p *detachedProc) moved(pos *int64, id int64) {
	p.mu.Lock()
	*pos = id
	p.wakeWritersLocked()
	p.mu.Unlock()
}

// detach unregisters a reader.
func (p *detachedProc) detach(pos *int64) {
	p.mu.Lock()
	delete(p.readers, pos)
	p.wakeWritersLocked()
	p.mu.Unlock()
}

func (p *detachedProc) wakeWritersLocked() {
	close(p.progress)
	p.progress = make(chan struct{})
}

// finish records the exit and appends the last event.
func (p *detachedProc) finish(code *int, last procEvent) {
	p.mu.Lock()
	p.endedAt = time.Now().UTC()
	p.exitCode = code
	p.mu.Unlock()
	p.append(last)
}

// ended returns when the process exited; ok is false while it runs.
func (p *detachedProc) ended() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endedAt, !p.endedAt.IsZero()
}

// since returns the retained events after id last, the bytes of output
// lost between last and the first of them (0: none), a channel closed by
// the next append, and whether the stream is complete.
func (p *detachedProc) since(last int64) (evs []procEvent, dropped int64, wake <-chan struct{}, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.events) > 0 {
		first := p.events[0]
		if last < first.id-1 {
			dropped = first.off - p.offsetAfter(last)
		}
		i, _ := slices.BinarySearchFunc(p.events, last+1, func(e procEvent, id int64) int { return int(e.id - id) })
		evs = slices.Clone(p.events[i:])
	}
	return evs, dropped, p.wake, p.done
}

// offsetAfter returns the data bytes emitted up to event id last, from the
// evict log; older than the log, the log's oldest offset (so the gap is a
// lower bound).
func (p *detachedProc) offsetAfter(last int64) int64 {
	if last <= 0 || len(p.evictLog) == 0 {
		return 0
	}
	i, found := slices.BinarySearchFunc(p.evictLog, last+1, func(e procEvent, id int64) int { return int(e.id - id) })
	if found || i < len(p.evictLog) {
		return p.evictLog[i].off
	}
	return p.events[0].off
}

// info returns the ProcessInfo of p.
func (p *detachedProc) info() *processInfoJSON {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := &processInfoJSON{
		PID: p.pid, Command: p.command, Args: p.args, Cwd: p.cwd,
		State: "running", ExitCode: p.exitCode, StartedAt: p.startedAt,
	}
	if out.Args == nil {
		out.Args = []string{}
	}
	if !p.endedAt.IsZero() {
		out.State = "exited"
		end := p.endedAt
		out.EndedAt = &end
	}
	return out
}

// pump reads one output pipe into events until it ends.
func (p *detachedProc) pump(r io.Reader, typ string) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p.append(procEvent{typ: typ, data: slices.Clone(buf[:n])})
		}
		if err != nil {
			return
		}
	}
}

// run follows the process to its end: it pumps both pipes, then appends
// the exit event (or an error event when the sandbox ended under it or its
// timeout killed it).
func (p *detachedProc) run() {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(p.proc.Stdout, wire.EventStdout) }()
	go func() { defer wg.Done(); p.pump(p.proc.Stderr, wire.EventStderr) }()
	wg.Wait()
	_ = p.proc.Stdout.Close()
	_ = p.proc.Stderr.Close()
	code, err := p.proc.Wait()
	switch {
	case errors.Is(err, errSandboxNotRunning):
		p.finish(nil, procEvent{typ: wire.EventError, code: int(wire.CodeInvalidSandboxState), msg: "the sandbox ended before the process"})
	case errors.Is(err, errRunTimeout):
		p.finish(&code, procEvent{typ: wire.EventError, code: int(wire.CodeProcessTimeout), msg: err.Error()})
	default:
		p.finish(&code, procEvent{typ: wire.EventExit, code: code})
	}
}
