// Command workspace-server runs the reference Workspace server. Its
// sandboxes need Linux; on Windows it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "workspace-server: the reference server runs on Linux (bubblewrap sandboxes); it is not available on Windows")
	os.Exit(1)
}
