// Command bench measures the reference server; it needs Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench: the reference server and its sandboxes need Linux")
	os.Exit(1)
}
