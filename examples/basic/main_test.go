package main

import (
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestBasic(t *testing.T) {
	out := exampletest.Run(t, run)
	want := regexp.MustCompile(`^Created workspace: \S+
Created sandbox: \S+
Output: Hello World
File content: Hello, World!
$`)
	if !want.Match([]byte(out)) {
		t.Errorf("output does not match %s:\n%s", want, out)
	}
}
