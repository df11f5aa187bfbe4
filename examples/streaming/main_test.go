package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

func TestStreaming(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), c, &out, &errOut); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^Started tail -f \(pid \d+\)
app started
request 1 handled
request 2 handled
request 3 handled

Exited with code: 143
$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", want, out.String())
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
}
