package sandbox

import "golang.org/x/sys/unix"

// seccompNativeArch is the audit architecture of native system calls.
const seccompNativeArch = unix.AUDIT_ARCH_AARCH64

// seccompABIMask is 0: arm64 has no second ABI sharing its token.
const seccompABIMask = 0

// archDeniedSyscalls are the arm64-only calls a default container
// profile refuses (none beyond the common list).
var archDeniedSyscalls []uintptr
