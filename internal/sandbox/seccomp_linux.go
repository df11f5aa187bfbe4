//go:build linux && (amd64 || arm64)

package sandbox

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The seccomp filter every sandbox runs under (bwrap loads it, after
// setting up the sandbox, right before it executes the agent; the agent
// and everything it starts inherit it). It allows every system call but
// the ones below, which fail with EPERM (ENOSYS for clone3, so that libc
// falls back to clone, whose flags the filter can see):
//
//   - keyrings: add_key, request_key, and keyctl except joining a fresh
//     anonymous session keyring (what the agent does at start-up);
//   - new namespaces: unshare, setns, and clone with any CLONE_NEW* flag;
//   - mounts: mount, umount2, pivot_root and the new mount API (fsopen,
//     fsconfig, fsmount, fspick, move_mount, open_tree, mount_setattr);
//   - kernel attack surface: bpf, perf_event_open, io_uring_setup/enter/
//     register, userfaultfd;
//   - reaching other processes: ptrace, process_vm_readv/writev,
//     pidfd_getfd, kcmp;
//   - the rest of a default container profile: kernel modules, kexec,
//     reboot, swap, clocks, quotas, accounting, syslog, file handles,
//     fanotify, vhangup, and the obsolete calls (uselib, ustat, sysfs, ...)
//     listed per architecture in seccomp_<arch>.go.
//
// System calls of another ABI than the native one (x86 32-bit int 0x80,
// x32) fail with ENOSYS.
//
// The filter is assembled here with golang.org/x/net/bpf from the
// syscall numbers of golang.org/x/sys/unix (compile-time constants per
// architecture). A filter library such as elastic/go-seccomp-bpf was
// measured to cost 1.3-1.9 ms of package initialisation (its syscall
// tables) in every process that links it, and the agent is the server's
// own binary, started once per sandbox.

// deniedSyscalls fail with EPERM on every architecture.
var deniedSyscalls = []uintptr{
	unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_UNSHARE, unix.SYS_SETNS,
	unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
	unix.SYS_FSOPEN, unix.SYS_FSCONFIG, unix.SYS_FSMOUNT, unix.SYS_FSPICK,
	unix.SYS_MOVE_MOUNT, unix.SYS_OPEN_TREE, unix.SYS_MOUNT_SETATTR,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN,
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_USERFAULTFD,
	unix.SYS_PTRACE, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PIDFD_GETFD, unix.SYS_KCMP,
	unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE, unix.SYS_DELETE_MODULE,
	unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD, unix.SYS_REBOOT,
	unix.SYS_SWAPON, unix.SYS_SWAPOFF,
	unix.SYS_CLOCK_SETTIME, unix.SYS_CLOCK_ADJTIME, unix.SYS_SETTIMEOFDAY, unix.SYS_ADJTIMEX,
	unix.SYS_QUOTACTL, unix.SYS_QUOTACTL_FD, unix.SYS_ACCT, unix.SYS_SYSLOG,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_LOOKUP_DCOOKIE,
	unix.SYS_FANOTIFY_INIT, unix.SYS_VHANGUP, unix.SYS_NFSSERVCTL,
}

// cloneNewFlags are the clone flags that create namespaces.
const cloneNewFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWTIME

// Offsets in struct seccomp_data (little-endian: the low word of a
// 64-bit argument comes first).
const (
	seccompNrOff   = 0
	seccompArchOff = 4
	seccompArgOff  = 16 // args[0]; args[i] at 16+8*i
)

const (
	retAllow  = unix.SECCOMP_RET_ALLOW
	retEPERM  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

// seccompInsn is an instruction whose jump targets are labels, resolved
// by assemble.
type seccompInsn struct {
	label  string // this instruction's label, if any
	insn   bpf.Instruction
	jt, jf string // for conditional jumps: labels to go to ("" = next)
}

// seccompProgram builds the filter program for this architecture.
func seccompProgram() ([]bpf.RawInstruction, error) {
	p := []seccompInsn{
		{insn: bpf.LoadAbsolute{Off: seccompArchOff, Size: 4}},
		{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: seccompNativeArch}, jf: "enosys"},
		{insn: bpf.LoadAbsolute{Off: seccompNrOff, Size: 4}},
	}
	if seccompABIMask != 0 {
		// x32: the same architecture token, numbers with a high bit set.
		p = append(p, seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: seccompABIMask}, jt: "enosys"})
	}
	p = append(p,
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE}, jt: "clone"},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_KEYCTL}, jt: "keyctl"},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.SYS_CLONE3}, jt: "enosys"},
	)
	for _, nr := range append(deniedSyscalls, archDeniedSyscalls...) {
		p = append(p, seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(nr)}, jt: "eperm"})
	}
	p = append(p,
		seccompInsn{label: "allow", insn: bpf.RetConstant{Val: retAllow}},
		seccompInsn{label: "eperm", insn: bpf.RetConstant{Val: retEPERM}},
		seccompInsn{label: "enosys", insn: bpf.RetConstant{Val: retENOSYS}},
		// clone: refused when any namespace flag is set (flags are in
		// the low word of args[0] on every supported architecture).
		// Jumps only go forward, so each block has its own returns.
		seccompInsn{label: "clone", insn: bpf.LoadAbsolute{Off: seccompArgOff, Size: 4}},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: cloneNewFlags}, jf: "clone-allow"},
		seccompInsn{insn: bpf.RetConstant{Val: retEPERM}},
		seccompInsn{label: "clone-allow", insn: bpf.RetConstant{Val: retAllow}},
		// keyctl: only KEYCTL_JOIN_SESSION_KEYRING with a NULL name,
		// which creates a fresh anonymous session keyring.
		seccompInsn{label: "keyctl", insn: bpf.LoadAbsolute{Off: seccompArgOff, Size: 4}},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.KEYCTL_JOIN_SESSION_KEYRING}, jf: "keyctl-deny"},
		seccompInsn{insn: bpf.LoadAbsolute{Off: seccompArgOff + 4, Size: 4}},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0}, jf: "keyctl-deny"},
		seccompInsn{insn: bpf.LoadAbsolute{Off: seccompArgOff + 8, Size: 4}},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0}, jf: "keyctl-deny"},
		seccompInsn{insn: bpf.LoadAbsolute{Off: seccompArgOff + 12, Size: 4}},
		seccompInsn{insn: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0}, jf: "keyctl-deny"},
		seccompInsn{insn: bpf.RetConstant{Val: retAllow}},
		seccompInsn{label: "keyctl-deny", insn: bpf.RetConstant{Val: retEPERM}},
	)
	return assembleSeccomp(p)
}

// assembleSeccomp resolves the labels into relative skips and assembles
// the program.
func assembleSeccomp(p []seccompInsn) ([]bpf.RawInstruction, error) {
	at := map[string]int{}
	for i, in := range p {
		if in.label != "" {
			at[in.label] = i
		}
	}
	skip := func(i int, label string) (uint8, error) {
		if label == "" {
			return 0, nil
		}
		t, ok := at[label]
		if !ok || t <= i || t-i-1 > 255 {
			return 0, fmt.Errorf("sandbox: seccomp: bad jump from %d to %q", i, label)
		}
		return uint8(t - i - 1), nil
	}
	out := make([]bpf.Instruction, len(p))
	for i, in := range p {
		j, ok := in.insn.(bpf.JumpIf)
		if !ok {
			out[i] = in.insn
			continue
		}
		var err error
		if j.SkipTrue, err = skip(i, in.jt); err != nil {
			return nil, err
		}
		if j.SkipFalse, err = skip(i, in.jf); err != nil {
			return nil, err
		}
		out[i] = j
	}
	return bpf.Assemble(out)
}

// seccompFilterBytes returns the filter as the array of struct
// sock_filter that bwrap's --seccomp reads (native byte order).
func seccompFilterBytes() ([]byte, error) {
	prog, err := seccompProgram()
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, 8*len(prog))
	for _, r := range prog {
		b = binary.NativeEndian.AppendUint16(b, r.Op)
		b = append(b, r.Jt, r.Jf)
		b = binary.NativeEndian.AppendUint32(b, r.K)
	}
	return b, nil
}
