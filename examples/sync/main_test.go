package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

func TestSync(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), c, &out, &errOut); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	got := out.String()
	head, tail, ok := strings.Cut(got, "Downloaded project/ back:\n")
	if !ok || !strings.HasPrefix(head, "Uploaded 2 files to project/\nChanges seen by the watch:\n") {
		t.Fatalf("unexpected output:\n%s", got)
	}
	// The watch lines: the kernel may report a write more than once, but
	// these two are always there, and nothing of the probe.
	for _, line := range []string{"  create project/src/util.go\n", "  write  project/README.md\n"} {
		if !strings.Contains(head, line) {
			t.Errorf("watch output lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(head, ".ready") {
		t.Errorf("the probe shows in the watch output:\n%s", got)
	}
	wantBack := "  changed   README.md\n  unchanged src/main.go\n  new       src/util.go\n"
	if tail != wantBack {
		t.Errorf("comparison is\n%s\nwant\n%s", tail, wantBack)
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
}
