//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"time"

	"golang.org/x/sys/unix"
)

// The server side of the control channel. Everything the agent sends is
// untrusted: code inside the sandbox might have taken the agent over. A
// reply must fit in one agent.MaxPacket packet, be valid JSON, answer a
// request that is waiting (by id), be an event that request expects, and
// carry descriptors only where the protocol puts one (the PTY master on
// the first answer to a PTY request, the connected socket on a dial
// answer). Anything else is a protocol
// violation: the sandbox ends with ErrAgentDead and every descriptor that
// came with the reply is closed. Every wait for an answer is bounded by
// Config.AgentTimeout (ErrAgentTimeout), and while calls are in flight a
// liveness check runs every Config.LivenessInterval.

// pendingCall is a request waiting for answers.
type pendingCall struct {
	ch      chan *message
	op      string
	started bool // an agent.EvStarted was delivered
}

// readLoop dispatches agent messages to the waiting calls until the
// channel closes or the agent breaks the protocol.
func (s *Sandbox) readLoop() {
	defer close(s.readerOK)
	buf := make([]byte, agent.MaxPacket)
	oob := make([]byte, agent.OOBSpace)
	for {
		n, oobn, flags, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil || (n == 0 && oobn == 0) {
			if s.stopping.Load() {
				s.markDead()
			} else {
				s.fail(fmt.Errorf("%w: the agent closed its control channel", ErrAgentDead))
			}
			return
		}
		fds := agent.ParseRights(oob[:oobn])
		if why := s.deliver(buf[:n], fds, flags); why != "" {
			closeFDs(fds)
			s.fail(fmt.Errorf("%w: protocol violation: %s", ErrAgentDead, why))
			return
		}
	}
}

// deliver checks one reply and hands it to its call. It returns why the
// reply breaks the protocol ("" when it does not); the caller then
// closes fds. On success the call owns fds.
func (s *Sandbox) deliver(b []byte, fds []int, flags int) string {
	if flags&unix.MSG_TRUNC != 0 {
		return fmt.Sprintf("a reply larger than %d bytes", agent.MaxPacket)
	}
	if flags&unix.MSG_CTRUNC != 0 {
		return "a reply with too many descriptors"
	}
	msg := new(message)
	if err := json.Unmarshal(b, msg); err != nil {
		return "a malformed reply"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return "a reply after the end" // closes fds; the loop ends anyway
	}
	pc := s.pending[msg.ID]
	if pc == nil {
		return fmt.Sprintf("a reply to unknown request %d", msg.ID)
	}
	wantFDs, final := 0, true
	switch {
	case pc.op == agent.OpHello && msg.Ev == agent.EvHello:
	case (pc.op == agent.OpExec || pc.op == agent.OpPTY) && msg.Ev == agent.EvStarted && !pc.started:
		final = false
		if pc.op == agent.OpPTY {
			wantFDs = 1
		}
	case (pc.op == agent.OpExec || pc.op == agent.OpPTY) && (msg.Ev == agent.EvExit || msg.Ev == agent.EvError):
	case (pc.op == agent.OpSignal || pc.op == agent.OpKillGroup || pc.op == agent.OpPing) && (msg.Ev == agent.EvOK || msg.Ev == agent.EvError):
	case pc.op == agent.OpDial && msg.Ev == agent.EvDialed:
		wantFDs = 1 // the connected socket (dial_linux.go)
	case pc.op == agent.OpDial && msg.Ev == agent.EvError:
	default:
		return fmt.Sprintf("unexpected %q for a %q request", msg.Ev, pc.op)
	}
	if len(fds) != wantFDs {
		return fmt.Sprintf("%d descriptors on %q for a %q request", len(fds), msg.Ev, pc.op)
	}
	msg.fds = fds
	select {
	case pc.ch <- msg:
	default:
		return "more replies than a request has"
	}
	if final {
		delete(s.pending, msg.ID)
	} else {
		pc.started = true
	}
	return ""
}

// fail ends the sandbox because of its agent: err (wrapping ErrAgentDead
// or ErrAgentTimeout) becomes Err unless the sandbox was being stopped,
// every call in flight fails at once, and the sandbox is killed; waitLoop
// then frees what it held. Safe to call from any goroutine, more than
// once.
func (s *Sandbox) fail(err error) {
	s.errMu.Lock()
	first := s.err == nil && !s.stopping.Load()
	if first {
		s.err = err
	}
	s.errMu.Unlock()
	if first {
		s.m.log.Warn("sandbox agent failed", "id", s.id, "err", err)
	}
	s.markDead()
	s.kill()
}

// markDead fails every pending call.
func (s *Sandbox) markDead() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return
	}
	s.dead = true
	for id, pc := range s.pending {
		close(pc.ch)
		delete(s.pending, id)
	}
}

// goneErr is the error of a call on a sandbox that has ended: Err when the
// agent failed, else ErrNotRunning.
func (s *Sandbox) goneErr() error {
	if err := s.Err(); err != nil {
		return err
	}
	return ErrNotRunning
}

// isSandboxGone reports whether err says that the sandbox has ended.
func isSandboxGone(err error) bool {
	return errors.Is(err, ErrNotRunning) || errors.Is(err, ErrAgentDead) || errors.Is(err, ErrAgentTimeout)
}

// call sends a request and returns the channel its answers arrive on;
// the channel is closed when the sandbox dies. A request larger than
// MaxRequestSize fails with ErrRequestTooLarge and is not sent.
func (s *Sandbox) call(r *agent.Request, fds []int) (chan *message, error) {
	b, err := encodeRequest(r, s.nextID.Add(1))
	if err != nil {
		return nil, err
	}
	ch := make(chan *message, 2)
	s.mu.Lock()
	if s.dead {
		s.mu.Unlock()
		return nil, s.goneErr()
	}
	s.pending[r.ID] = &pendingCall{ch: ch, op: r.Op}
	s.mu.Unlock()
	s.sendMu.Lock()
	err = sendEncoded(s.conn, r.ID, b, fds)
	s.sendMu.Unlock()
	if err != nil {
		s.mu.Lock()
		delete(s.pending, r.ID)
		s.mu.Unlock()
		if s.stopping.Load() {
			return nil, fmt.Errorf("%w: %v", ErrNotRunning, err)
		}
		s.fail(fmt.Errorf("%w: sending to the agent: %v", ErrAgentDead, err))
		return nil, s.goneErr()
	}
	return ch, nil
}

// await waits for the next answer on ch for at most Config.AgentTimeout.
// Past it the sandbox fails with ErrAgentTimeout. It returns goneErr when
// the sandbox ended first.
func (s *Sandbox) await(ch chan *message, what string) (*message, error) {
	t := time.NewTimer(s.m.cfg.AgentTimeout)
	defer t.Stop()
	select {
	case m, ok := <-ch:
		if !ok {
			return nil, s.goneErr()
		}
		return m, nil
	case <-t.C:
		s.fail(fmt.Errorf("%w: no answer to %s within %v", ErrAgentTimeout, what, s.m.cfg.AgentTimeout))
		// fail closed ch; free whatever reached it meanwhile.
		for m := range ch {
			closeFDs(m.fds)
		}
		return nil, s.goneErr()
	}
}

// livenessLoop checks, every Config.LivenessInterval while calls are in
// flight, that the agent still answers; await fails the sandbox when it
// does not. An idle sandbox is not checked: its next call has a deadline
// of its own and the agent's death ends it anyway.
func (s *Sandbox) livenessLoop() {
	t := time.NewTicker(s.m.cfg.LivenessInterval)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		s.mu.Lock()
		busy := len(s.pending) > 0
		s.mu.Unlock()
		if !busy {
			continue
		}
		ch, err := s.call(&agent.Request{Op: agent.OpPing}, nil)
		if err != nil {
			return
		}
		if _, err := s.await(ch, "a liveness check"); err != nil {
			return
		}
	}
}

// killGroup sends SIGKILL to the process group pgid and returns once the
// agent has sent it (or the sandbox has ended).
func (s *Sandbox) killGroup(pgid int) {
	if pgid > 1 {
		if ch, err := s.call(&agent.Request{Op: agent.OpKillGroup, PID: pgid, Sig: int(unix.SIGKILL)}, nil); err == nil {
			_, _ = s.await(ch, "a kill")
		}
	}
}
