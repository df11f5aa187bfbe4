//go:build linux

package agent

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

func (a *agent) pty(r *Request) {
	fail := func(err error) {
		a.send(&Message{ID: r.ID, Ev: EvError, Msg: err.Error()}, nil)
	}
	shell := r.Path
	if shell == "" {
		shell = "/bin/bash"
		if _, err := os.Stat(shell); err != nil {
			shell = "/bin/sh"
		}
	}
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(fmt.Errorf("open /dev/ptmx: %w", err))
		return
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		fail(fmt.Errorf("unlockpt: %w", err))
		return
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		fail(fmt.Errorf("ptsname: %w", err))
		return
	}
	slave, err := unix.Open(fmt.Sprintf("/dev/pts/%d", n), unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		fail(fmt.Errorf("open pts: %w", err))
		return
	}
	defer unix.Close(slave)
	_ = unix.IoctlSetWinsize(master, unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(r.Rows), Col: uint16(r.Cols)})
	cwd := r.Cwd
	if st, err := os.Stat(cwd); err != nil || !st.IsDir() {
		cwd = "/"
	}
	attr := &syscall.ProcAttr{
		Dir:   cwd,
		Env:   r.Env,
		Files: []uintptr{uintptr(slave), uintptr(slave), uintptr(slave)},
		Sys:   &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0},
	}
	a.start(r.ID, shell, []string{shell}, attr, []int{master}, func(err error) {
		fail(fmt.Errorf("start %s: %w", shell, err))
	})
}
