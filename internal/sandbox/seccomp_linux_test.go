//go:build linux && (amd64 || arm64)

package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// TestSeccompProgram runs the filter in x/net/bpf's interpreter over
// hand-made struct seccomp_data, for what an attack from inside cannot
// easily show: other ABIs (x86 int 0x80, x32) and argument checks.
func TestSeccompProgram(t *testing.T) {
	prog, err := seccompProgram()
	if err != nil {
		t.Fatal(err)
	}
	insns := make([]bpf.Instruction, len(prog))
	for i, r := range prog {
		insns[i] = r.Disassemble()
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatal(err)
	}
	// The interpreter loads 32-bit words big-endian; the kernel loads
	// them in native (little-endian) order. Writing each word big-endian
	// at its little-endian offset (low word of an argument first) makes
	// the interpreter see what the kernel sees.
	data := func(arch uint32, nr uint32, args ...uint64) []byte {
		b := make([]byte, 64)
		binary.BigEndian.PutUint32(b[0:], nr)
		binary.BigEndian.PutUint32(b[4:], arch)
		for i, a := range args {
			binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
			binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
		}
		return b
	}
	native := uint32(seccompNativeArch)
	cases := []struct {
		name string
		in   []byte
		want uint32
	}{
		{"read", data(native, unix.SYS_READ), retAllow},
		{"clone of a thread", data(native, unix.SYS_CLONE, unix.CLONE_VM|unix.CLONE_THREAD|unix.CLONE_FILES), retAllow},
		{"clone of a user namespace", data(native, unix.SYS_CLONE, unix.CLONE_NEWUSER), retEPERM},
		{"clone of a network namespace", data(native, unix.SYS_CLONE, unix.CLONE_NEWNET|uint64(unix.SIGCHLD)), retEPERM},
		{"clone3", data(native, unix.SYS_CLONE3), retENOSYS},
		{"keyctl join anonymous", data(native, unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0), retAllow},
		{"keyctl join named", data(native, unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0x7fff0000), retEPERM},
		{"keyctl read", data(native, unix.SYS_KEYCTL, unix.KEYCTL_READ, 5), retEPERM},
		{"keyctl join, high word set", data(native, unix.SYS_KEYCTL, 1<<32|unix.KEYCTL_JOIN_SESSION_KEYRING, 0), retEPERM},
		{"bpf", data(native, unix.SYS_BPF), retEPERM},
		{"io_uring_setup", data(native, unix.SYS_IO_URING_SETUP), retEPERM},
		{"other architecture", data(native^1, unix.SYS_READ), retENOSYS},
	}
	if seccompABIMask != 0 {
		cases = append(cases, struct {
			name string
			in   []byte
			want uint32
		}{"x32 read", data(native, seccompABIMask|unix.SYS_READ), retENOSYS})
		cases = append(cases, struct {
			name string
			in   []byte
			want uint32
		}{"i386 (int 0x80)", data(unix.AUDIT_ARCH_I386, 3 /* read */), retENOSYS})
	}
	for _, c := range cases {
		got, err := vm.Run(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if uint32(got) != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, uint32(got), c.want)
		}
	}
}
