//go:build linux

package sandbox

import (
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"net"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Sandbox is one running sandbox. Safe for concurrent use.
type Sandbox struct {
	m        *Manager
	id       string
	env      map[string]string
	cmd      *exec.Cmd
	conn     *net.UnixConn
	sendMu   sync.Mutex
	agentPID int
	childPID atomic.Int64 // host pid of bwrap's pid 1 inside the namespace
	pidMu    sync.Mutex
	pidfd    int // pidfd of childPID, 0 when unknown or closed
	stderr   *headBuffer
	cg       *sandboxCgroup // nil when Spec.Limits set none

	mu      sync.Mutex
	pending map[uint64]*pendingCall
	dead    bool
	nextID  atomic.Uint64

	stopping atomic.Bool // Stop was called: the end is normal
	errMu    sync.Mutex
	err      error // why the sandbox ended abnormally (see Err)

	done     chan struct{}
	readerOK chan struct{}
}

// waitLoop waits for bwrap and the whole pid namespace to be gone.
func (s *Sandbox) waitLoop(infoDone chan struct{}) {
	err := s.cmd.Wait()
	<-infoDone
	s.pidMu.Lock()
	pidfd := s.pidfd
	s.pidMu.Unlock()
	if pidfd > 0 {
		// bwrap's pid 1 can outlive the outer bwrap briefly (it dies
		// from its parent-death signal); it exits only once every
		// process of the namespace is gone.
		pfd := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
				break
			}
		}
		s.pidMu.Lock()
		unix.Close(pidfd)
		s.pidfd = 0
		s.pidMu.Unlock()
	}
	if s.cg != nil {
		if err := s.cg.remove(); err != nil {
			s.m.log.Warn("sandbox cgroup not removed", "id", s.id, "err", err)
		}
	}
	s.conn.Close()
	<-s.readerOK
	if !s.stopping.Load() {
		why := "exited"
		if err != nil {
			why = err.Error()
		}
		s.fail(fmt.Errorf("%w: the sandbox ended on its own (%s)", ErrAgentDead, why))
	}
	s.markDead()
	s.m.mu.Lock()
	delete(s.m.boxes, s)
	s.m.mu.Unlock()
	s.m.log.Debug("sandbox ended", "id", s.id, "err", err)
	close(s.done)
}

func (s *Sandbox) Stop(grace time.Duration) error {
	select {
	case <-s.done:
		return nil
	default:
	}
	s.stopping.Store(true)
	if grace > 0 {
		if _, err := s.call(&agent.Request{Op: agent.OpTerminate}, nil); err == nil {
			t := time.NewTimer(grace)
			select {
			case <-s.done:
				t.Stop()
				return nil
			case <-t.C:
			}
		}
	}
	s.kill()
	<-s.done
	return nil
}

// kill sends SIGKILL to the sandbox (its pid 1, which takes the whole pid
// namespace down, and bwrap) without waiting.
func (s *Sandbox) kill() {
	s.pidMu.Lock()
	if s.pidfd > 0 {
		_ = unix.PidfdSendSignal(s.pidfd, unix.SIGKILL, nil, 0)
	}
	s.pidMu.Unlock()
	_ = s.cmd.Process.Kill()
}

// Err says why the sandbox ended: nil while it runs and after a normal
// Stop (or Manager.Close); an error wrapping ErrAgentDead when its agent
// died, the sandbox ended on its own, or the agent broke the control
// protocol; an error wrapping ErrAgentTimeout when the agent did not
// answer in time. Calls on such a sandbox fail with the same error.
func (s *Sandbox) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// Done is closed when the sandbox has ended for any reason.
func (s *Sandbox) Done() <-chan struct{} { return s.done }

// HostPID is the host pid of the sandbox's outermost process (for metrics).
func (s *Sandbox) HostPID() int { return s.cmd.Process.Pid }

// ID is the sandbox id from Spec.ID.
func (s *Sandbox) ID() string { return s.id }
