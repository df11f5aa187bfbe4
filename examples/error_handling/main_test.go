package main

import (
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestErrorHandling(t *testing.T) {
	out := exampletest.Run(t, run)
	for _, want := range []string{
		"Sandbox not found:", "API error: HTTP 404, code 2001", "Sandbox exists: false",
		"Workspace not found:", "Template not found:", "Workspace has active sandboxes:",
		"API error: HTTP 409, code 7002", "Run: exit code 3", "Exec:", "(exit code 3",
		"Process timeout:", "File not found:", "File exists: false", "Path not allowed:",
		"Exec in a deleted sandbox:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
