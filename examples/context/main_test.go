package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestContext(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(t.Context(), c, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	for _, want := range []string{
		"Sandbox state: running\n",
		"Deadline: gave up on sleep 30 after ", "Deadline: the server killed sleep 30\n",
		"Cancel: sleep 31 stopped: ", "Cancel: the server killed sleep 31\n",
		"Group: slow-1 cancelled\n", "Group: slow-2 cancelled\n", "Group: failing failed: ",
		"Group: cancelled by failing: ", "(exit code 1)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
