package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBasic(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^Created workspace: \S+
Created sandbox: \S+
Output: Hello World
File content: Hello, World!
$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", want, out.String())
	}
}
