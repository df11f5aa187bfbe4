// Package exampletest runs an example's code from its test: against the
// embedded reference server (or WORKSPACE_API_URL), failing the test when
// the example fails.
package exampletest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"go.uber.org/goleak"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// Main is the TestMain of every example: the test binary is also the
// agent of the embedded server's sandboxes, and no goroutine may outlive
// the tests.
func Main(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

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

// RunSplit is Run for an example that writes to stdout and stderr: it
// returns both. It fails t when run fails.
func RunSplit(t *testing.T, run func(ctx context.Context, c *workspace.Client, stdout, stderr io.Writer) error) (stdout, stderr string) {
	t.Helper()
	var errOut bytes.Buffer
	out := Run(t, func(ctx context.Context, c *workspace.Client, w io.Writer) error {
		return run(ctx, c, w, &errOut)
	})
	return out, errOut.String()
}
