package sandbox

import "golang.org/x/sys/unix"

// seccompNativeArch is the audit architecture of native system calls;
// int 0x80 (i386) calls carry another one and fail.
const seccompNativeArch = unix.AUDIT_ARCH_X86_64

// seccompABIMask marks x32 system calls (same architecture token).
const seccompABIMask = 0x40000000

// archDeniedSyscalls are the x86-64-only calls a default container
// profile refuses.
var archDeniedSyscalls = []uintptr{
	unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_MODIFY_LDT,
	unix.SYS_CREATE_MODULE, unix.SYS_GET_KERNEL_SYMS, unix.SYS_QUERY_MODULE,
	unix.SYS_USELIB, unix.SYS_USTAT, unix.SYS_SYSFS, unix.SYS__SYSCTL,
	unix.SYS_AFS_SYSCALL, unix.SYS_TUXCALL, unix.SYS_SECURITY, unix.SYS_VSERVER,
	unix.SYS_GETPMSG, unix.SYS_PUTPMSG,
}
