//go:build unix

package main

import "syscall"

// terminateSignal ends the command like Ctrl-C does.
var terminateSignal = syscall.SIGTERM
