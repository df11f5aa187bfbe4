package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestConcurrent(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := []string{"Created 3 sandboxes sharing workspace ", "Sandbox 0 sees: worker-0.txt worker-1.txt worker-2.txt\n"}
	for i := range workers {
		want = append(want, fmt.Sprintf("Worker %d: Worker %d\n", i, i), fmt.Sprintf("worker-%d.txt: written by ", i))
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	if os.Getenv(exampleenv.EnvAPIURL) != "" {
		return // a shared server may run other sandboxes
	}
	// The embedded server's sandboxes are all gone.
	sbxs, err := c.Sandbox.List(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sbxs) != 0 {
		t.Errorf("%d sandboxes left after run", len(sbxs))
	}
}
