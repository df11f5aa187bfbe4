// Package exampletest runs an example's code from its test: against the
// embedded reference server (or WORKSPACE_API_URL), failing the test when
// the example fails.
package exampletest

import (
	"bytes"
	"context"
	"io"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

// Run connects like the example's main, calls run with a buffer as its
// output, and returns what it printed. It fails t when run fails.
func Run(t *testing.T, run func(context.Context, *workspace.Client, io.Writer) error) string {
	t.Helper()
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	return out.String()
}
