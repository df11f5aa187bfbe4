//go:build !windows

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// agentSelf is the -agent value that makes this binary its own sandbox
// agent, as the server is when cmd/workspace-agent is not installed.
const agentSelf = "self"

// chooseAgent returns the sandbox agent executable for the project's
// server ("" = this binary) and a note for the table. By default it
// builds cmd/workspace-agent into dir with the go command, as an
// installation of the server has it next to workspace-server; when that
// fails, it says so and uses this binary.
func chooseAgent(flagValue, dir string) (path, note string) {
	switch flagValue {
	case agentSelf:
		return "", "agent: the bench binary itself (-agent self)"
	case "":
	default:
		return flagValue, "agent: " + flagValue
	}
	out := filepath.Join(dir, "workspace-agent")
	cmd := exec.Command("go", "build", "-o", out, "github.com/elevo/workspace-sdk-go/cmd/workspace-agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	// Build in this module's source tree (where this file was compiled
	// from), whatever the working directory.
	if _, file, _, ok := runtime.Caller(0); ok {
		if root := filepath.Dir(filepath.Dir(filepath.Dir(file))); fileExists(filepath.Join(root, "go.mod")) {
			cmd.Dir = root
		}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("agent: the bench binary itself (building cmd/workspace-agent failed: %v: %.200s)", err, b)
	}
	return out, "agent: cmd/workspace-agent, built by the bench"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
