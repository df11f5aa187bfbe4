//go:build !unix

package main

import "os"

// terminateSignal ends the command like Ctrl-C does; Windows has no
// SIGTERM, so it is os.Interrupt again.
var terminateSignal = os.Interrupt
