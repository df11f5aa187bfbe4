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

func TestDevServer(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out, errOut bytes.Buffer
	if err := run(t.Context(), c, &out, &errOut); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^Started python3 -m http.server \(pid (\d+)\)
Through the forwarded port: <h1>Hello from the sandbox</h1>
Through the preview URL: <h1>Hello from the sandbox</h1>
Attached to pid (\d+); its log:
(?s:.*)127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1.1" 200 -
(?s:.*)127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1.1" 200 -
(?s:.*)Exited with code: 143
$`)
	m := want.FindSubmatch(out.Bytes())
	if m == nil {
		t.Fatalf("output does not match %s:\n%s", want, out.String())
	}
	if !bytes.Equal(m[1], m[2]) {
		t.Errorf("attached to pid %s, started pid %s", m[2], m[1])
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
}
