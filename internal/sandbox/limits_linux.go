//go:build linux

package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Controls reports which kinds of Limits m can enforce on this host.
func (m *Manager) Controls() Controls { return m.cg.ctl }

// blockFD is the descriptor bwrap's pid 1 blocks on (--block-fd) until
// it is in its cgroup: ExtraFiles[4], after the control socket, the info
// pipe, the --args options and the seccomp filter.
const blockFD = 7

// newCgroup makes the cgroup for spec's limits; nil when it sets none.
func (m *Manager) newCgroup(spec *Spec) (*sandboxCgroup, error) {
	if spec.Limits.IsZero() {
		return nil, nil
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, spec.ID)
	if len(name) > 64 {
		name = name[:64]
	}
	return m.cg.create(name+"-"+hex.EncodeToString(rnd[:]), spec.Limits)
}

// enterCgroup puts bwrap's pid 1 (childPID, 0 when bwrap never reported
// it) into cg and then releases it from --block-fd by closing block. The
// namespace's pid 1 has not forked yet, so the agent and every command
// start inside the cgroup: no process of the sandbox runs outside it.
// When the move fails, bwrap is killed before it is released.
func (s *Sandbox) enterCgroup(childPID int, block *os.File) {
	defer block.Close()
	var err error
	if childPID <= 0 {
		err = ErrNotRunning
	} else {
		err = s.cg.join(childPID)
	}
	if err != nil {
		s.m.log.Warn("sandbox cgroup join failed; killing it", "id", s.id, "err", err)
		if childPID > 0 {
			_ = unix.Kill(childPID, unix.SIGKILL)
		}
		_ = s.cmd.Process.Kill()
		return
	}
	_, _ = block.Write([]byte{1})
}

// closeStartFiles undoes newCgroup and its pipe when Start fails before
// bwrap runs.
func closeStartFiles(cg *sandboxCgroup, r, w *os.File) {
	if cg == nil {
		return
	}
	r.Close()
	w.Close()
	cg.remove()
}
