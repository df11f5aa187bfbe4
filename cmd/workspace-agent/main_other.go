//go:build !linux

// Command workspace-agent is the sandbox agent of the reference server,
// which runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "workspace-agent: sandboxes need Linux")
	os.Exit(2)
}
