package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestScriptedSession(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	err = withSandbox(t.Context(), c, func(sandboxID string) error {
		return scripted(t.Context(), c, sandboxID, &out)
	})
	if err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^Connected to PTY \S+ \(120x40\)
\$ pwd
/workspace
\$ stty size
40 120
Resized to 100x50
\$ stty size
50 100
PTY closed
Shell exited with code 0
$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", want, out.String())
	}
}
