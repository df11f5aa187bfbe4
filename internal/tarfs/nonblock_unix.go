//go:build unix

package tarfs

import "syscall"

// openNonblock keeps the open of a file that became a FIFO from blocking.
const openNonblock = syscall.O_NONBLOCK
