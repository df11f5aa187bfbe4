//go:build !windows

package server

import (
	"bytes"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

func newTestProc(limit int64) *detachedProc {
	return &detachedProc{limit: limit, wake: make(chan struct{}), progress: make(chan struct{})}
}

// The ring keeps its limit, and a resume point older than its first event
// learns exactly how many bytes it lost.
func TestProcRingEvictsAndSizesGaps(t *testing.T) {
	p := newTestProc(10 * (100 + eventOverhead))
	for i := range 50 {
		p.append(procEvent{typ: wire.EventStdout, data: bytes.Repeat([]byte{byte('a' + i%26)}, 100)})
	}
	evs, dropped, _, done := p.since(0)
	assert.False(t, done)
	require.Len(t, evs, 10)
	assert.Equal(t, int64(41), evs[0].id)
	assert.Equal(t, int64(40*100), dropped, "everything before the first retained event")

	// A reader that saw up to event 25 lost events 26..40.
	_, dropped, _, _ = p.since(25)
	assert.Equal(t, int64(15*100), dropped)
	// One that saw event 40 lost nothing.
	evs, dropped, _, _ = p.since(40)
	assert.Zero(t, dropped)
	assert.Len(t, evs, 10)
	// Up to date: nothing.
	evs, dropped, _, _ = p.since(50)
	assert.Empty(t, evs)
	assert.Zero(t, dropped)

	p.finish(new(int), procEvent{typ: wire.EventExit})
	evs, _, _, done = p.since(50)
	assert.True(t, done)
	require.Len(t, evs, 1)
	assert.Equal(t, wire.EventExit, evs[0].typ)
}

// An attached reader paces the output: it loses nothing however far the
// writer runs ahead, with events of mixed sizes (an event evicts several
// small ones).
func TestProcRingPacedByAttachedReader(t *testing.T) {
	p := newTestProc(4 * (40 + eventOverhead))
	pos := p.attach(0)
	const n = 2000
	var want []byte
	for i := range n {
		want = append(want, bytes.Repeat([]byte{byte(i)}, 1+i%5*40)...)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			p.append(procEvent{typ: wire.EventStdout, data: bytes.Repeat([]byte{byte(i)}, 1+i%5*40)})
		}
		p.finish(new(int), procEvent{typ: wire.EventExit})
	}()
	var got []byte
	var last int64
	for {
		evs, dropped, wake, done := p.since(last)
		require.Zero(t, dropped, "a paced reader never sees a gap")
		for _, ev := range evs {
			got = append(got, ev.data...)
			last = ev.id
		}
		p.moved(pos, last)
		if done && len(evs) == 0 {
			break
		}
		if !done {
			<-wake
		}
	}
	p.detach(pos)
	wg.Wait()
	assert.True(t, bytes.Equal(want, got), "every byte, in order")
}

// A process started for a follower holds its output until the follower
// attaches.
func TestProcRingHeldForFirstReader(t *testing.T) {
	p := newTestProc(2 * (10 + eventOverhead))
	p.holdForReader()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			p.append(procEvent{typ: wire.EventStdout, data: bytes.Repeat([]byte{byte(i)}, 10)})
		}
	}()
	eventuallyHeld := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.nextID >= 2
	}
	for !eventuallyHeld() {
		runtime.Gosched()
	}
	pos := p.attach(0)
	var got int
	var last int64
	for got < 1000 {
		evs, dropped, wake, _ := p.since(last)
		require.Zero(t, dropped)
		for _, ev := range evs {
			got += len(ev.data)
			last = ev.id
		}
		p.moved(pos, last)
		if got < 1000 {
			<-wake
		}
	}
	p.detach(pos)
	wg.Wait()
}
