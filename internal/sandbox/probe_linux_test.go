//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"github.com/elevo/workspace-sdk-go/internal/sandbox/agent"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Attack probes: the test binary, bound in every sandbox at
// /.agent/agent, runs one of these inside a sandbox when started with
// probeEnv set (TestMain). Each probe tries things hostile code would try
// and prints one line per attempt that was NOT refused; it exits 0 when
// everything was refused, 1 otherwise, 2 when it could not run.
const probeEnv = "SANDBOX_TEST_PROBE"

// runProbeIn runs probe name with args inside s and returns its result.
func runProbeIn(t *testing.T, s *Sandbox, name string, args ...string) *ExecResult {
	t.Helper()
	res, err := s.Run(context.Background(), ExecRequest{
		Command: agent.PathInSandbox, Args: args, Env: map[string]string{probeEnv: name},
	})
	if err != nil {
		t.Fatalf("probe %s: %v", name, err)
	}
	return res
}

func runProbe(name string, args []string) int {
	var got []string
	allowed := func(what string, err error) {
		if err == nil {
			got = append(got, what+": allowed")
		}
	}
	switch name {
	case "agent":
		// The agent is pid 1: ptrace it, take its descriptors, read
		// its memory and environment.
		allowed("ptrace attach", unix.PtraceAttach(1))
		if pidfd, err := unix.PidfdOpen(1, 0); err == nil {
			for fd := 0; fd < 16; fd++ {
				if nfd, err := unix.PidfdGetfd(pidfd, fd, 0); err == nil {
					unix.Close(nfd)
					got = append(got, fmt.Sprintf("pidfd_getfd(1, %d): allowed", fd))
				}
			}
			unix.Close(pidfd)
		}
		// (Listing /proc/1/fd shows descriptor numbers only.)
		for fd := 0; fd < 16; fd++ {
			if f, err := os.Open(fmt.Sprintf("/proc/1/fd/%d", fd)); err == nil {
				f.Close()
				got = append(got, fmt.Sprintf("open /proc/1/fd/%d: allowed", fd))
			}
			if l, err := os.Readlink(fmt.Sprintf("/proc/1/fd/%d", fd)); err == nil {
				got = append(got, fmt.Sprintf("readlink /proc/1/fd/%d: %s", fd, l))
			}
		}
		f, err := os.Open("/proc/1/mem")
		if err == nil {
			f.Close()
		}
		allowed("open /proc/1/mem", err)
		_, err = os.ReadFile("/proc/1/environ")
		allowed("read /proc/1/environ", err)
		// Signals that would stop or kill an ordinary process.
		for _, sig := range []unix.Signal{unix.SIGSTOP, unix.SIGKILL, unix.SIGTERM, unix.SIGABRT, unix.SIGSEGV, unix.SIGQUIT} {
			_ = unix.Kill(1, sig)
		}
		_ = unix.Kill(-1, unix.SIGKILL) // everything but ourselves and pid 1
	case "syscalls":
		// Each call must fail with EPERM or ENOSYS (not EINVAL & co,
		// which would mean the kernel code behind it was reached).
		refused := func(what string, err error) {
			if err != unix.EPERM && err != unix.ENOSYS {
				got = append(got, fmt.Sprintf("%s: %v (want EPERM or ENOSYS)", what, err))
			}
		}
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
		if err == nil {
			unix.Close(fd)
		}
		refused("perf_event_open", err)
		var params [120]byte
		_, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 8, uintptr(unsafe.Pointer(&params[0])), 0)
		refused("io_uring_setup", errnoErr(e))
		var bpfAttr [128]byte
		_, _, e = unix.Syscall(unix.SYS_BPF, 0 /* BPF_MAP_CREATE */, uintptr(unsafe.Pointer(&bpfAttr[0])), uintptr(len(bpfAttr)))
		refused("bpf", errnoErr(e))
		_, err = unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		refused("keyctl", err)
		_, err = unix.AddKey("user", "probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		refused("add_key", err)
		_, err = unix.RequestKey("user", "probe", "", unix.KEY_SPEC_PROCESS_KEYRING)
		refused("request_key", err)
		refused("unshare(CLONE_NEWUSER)", unix.Unshare(unix.CLONE_NEWUSER))
		refused("unshare(CLONE_NEWNS)", unix.Unshare(unix.CLONE_NEWNS))
		refused("mount", unix.Mount("none", "/tmp", "tmpfs", 0, ""))
		refused("umount", unix.Unmount("/tmp", 0))
		_, err = unix.Open("/", unix.O_RDONLY, 0)
		if err != nil {
			got = append(got, "open /: "+err.Error()) // the filter must not break ordinary calls
		}
		_, _, e = unix.RawSyscall(unix.SYS_CLONE, unix.CLONE_NEWUSER|uintptr(unix.SIGCHLD), 0, 0)
		refused("clone(CLONE_NEWUSER)", errnoErr(e))
		_, _, e = unix.Syscall(unix.SYS_USERFAULTFD, 0, 0, 0)
		refused("userfaultfd", errnoErr(e))
		_, _, e = unix.Syscall(unix.SYS_PROCESS_VM_READV, 1, 0, 0)
		refused("process_vm_readv", errnoErr(e))
		_, _, e = unix.Syscall(unix.SYS_FINIT_MODULE, 0, 0, 0)
		refused("finit_module", errnoErr(e))
		_, _, e = unix.Syscall(unix.SYS_CLONE3, 0, 0, 0)
		refused("clone3", errnoErr(e))
		refused("ptrace of the parent", unix.PtraceAttach(os.Getppid()))
	case "keys":
		// args: the id of a key in the server's session keyring.
		if len(args) != 1 {
			return 2
		}
		id, err := strconv.Atoi(args[0])
		if err != nil {
			return 2
		}
		buf := make([]byte, 256)
		_, err = unix.KeyctlBuffer(unix.KEYCTL_READ, id, buf, 0)
		allowed("read the server's key", err)
		_, err = unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		allowed("describe the server's key", err)
		_, err = unix.AddKey("user", "shared-"+args[0], []byte("from a sandbox"), unix.KEY_SPEC_USER_KEYRING)
		allowed("add a key to the uid's keyring", err)
		_, err = unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "user", "shared-"+args[0], 0)
		allowed("find a key of another sandbox", err)
		if b, err := os.ReadFile("/proc/keys"); err == nil && strings.Contains(string(b), "sandbox-test-host-key") {
			got = append(got, "the server's key is listed in /proc/keys")
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown probe", name)
		return 2
	}
	for _, g := range got {
		fmt.Println(g)
	}
	if len(got) > 0 {
		return 1
	}
	return 0
}

// errnoErr turns a raw syscall errno into an error (nil for success).
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
