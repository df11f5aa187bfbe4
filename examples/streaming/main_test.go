package main

import (
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestStreaming(t *testing.T) {
	out, errOut := exampletest.RunSplit(t, run)
	want := regexp.MustCompile(`^Started tail -f \(pid \d+\)
app started
request 1 handled
request 2 handled
request 3 handled

Exited with code: 143
$`)
	if !want.Match([]byte(out)) {
		t.Errorf("output does not match %s:\n%s", want, out)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}
