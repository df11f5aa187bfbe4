package main

import (
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestSync(t *testing.T) {
	out, errOut := exampletest.RunSplit(t, run)
	got := out
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
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}
