//go:build linux

package agent

import (
	"os"

	"golang.org/x/sys/unix"
)

// reap collects every exited child, reports the ones the server started,
// and ends the agent when terminating and nothing is left.
func (a *agent) reap() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECHILD && a.terminating {
			os.Exit(0)
		}
		if err != nil || pid <= 0 {
			return
		}
		id, ok := a.procs[pid]
		if !ok {
			continue
		}
		delete(a.procs, pid)
		code := ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		a.send(&Message{ID: id, Ev: EvExit, PID: pid, Code: code}, nil)
	}
}
