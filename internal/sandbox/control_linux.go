//go:build linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"syscall"
)

// readLoop dispatches agent messages to the waiting calls.
func (s *Sandbox) readLoop() {
	defer close(s.readerOK)
	buf := make([]byte, maxPacket)
	oob := make([]byte, oobSpace)
	for {
		b, fds, err := readPacket(s.conn, buf, oob)
		if err != nil {
			s.markDead()
			return
		}
		msg := new(message)
		if json.Unmarshal(b, msg) != nil {
			closeFDs(fds)
			continue
		}
		msg.fds = fds
		s.mu.Lock()
		ch := s.pending[msg.ID]
		if ch != nil && msg.Ev != evStarted {
			delete(s.pending, msg.ID)
		}
		s.mu.Unlock()
		if ch == nil {
			closeFDs(fds)
			continue
		}
		select {
		case ch <- msg:
		default: // a confused agent; never block the loop
			closeFDs(fds)
		}
	}
}

// markDead fails every pending call.
func (s *Sandbox) markDead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	s.dead = true
	for id, ch := range s.pending {
		close(ch)
		delete(s.pending, id)
	}
}

// call sends a request and returns the channel its answers arrive on;
// the channel is closed when the sandbox dies.
func (s *Sandbox) call(r *request, fds []int) (chan *message, error) {
	r.ID = s.nextID.Add(1)
	ch := make(chan *message, 4)
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, ErrNotRunning
	}
	s.pending[r.ID] = ch
	s.mu.Unlock()
	s.sendMu.Lock()
	err := sendRequest(s.conn, r, fds)
	s.sendMu.Unlock()
	if err != nil {
		s.mu.Lock()
		delete(s.pending, r.ID)
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return ch, nil
}

// killGroup sends SIGKILL to the process group pgid and returns once the
// agent has sent it.
func (s *Sandbox) killGroup(pgid int) {
	if pgid > 1 {
		if ch, err := s.call(&request{Op: opKillGroup, PID: pgid, Sig: int(syscall.SIGKILL)}, nil); err == nil {
			<-ch
		}
	}
}
