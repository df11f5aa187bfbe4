package main

import (
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestContext(t *testing.T) {
	out := exampletest.Run(t, run)
	for _, want := range []string{
		"Sandbox state: running\n",
		"Deadline: gave up on sleep 30 after ", "Deadline: the server killed sleep 30\n",
		"Cancel: sleep 31 stopped: ", "Cancel: the server killed sleep 31\n",
		"Group: slow-1 cancelled\n", "Group: slow-2 cancelled\n", "Group: failing failed: ",
		"Group: cancelled by failing: ", "(exit code 1)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
