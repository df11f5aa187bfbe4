package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

func TestDevServer(t *testing.T) {
	out, errOut := exampletest.RunSplit(t, run)
	want := regexp.MustCompile(`^Started python3 -m http.server \(pid (\d+)\)
Through the forwarded port: <h1>Hello from the sandbox</h1>
Through the preview URL: <h1>Hello from the sandbox</h1>
Attached to pid (\d+); its log:
(?s:.*)127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1.1" 200 -
(?s:.*)127\.0\.0\.1 - - \[[^]]+\] "GET / HTTP/1.1" 200 -
(?s:.*)Exited with code: 143
$`)
	m := want.FindSubmatch([]byte(out))
	if m == nil {
		t.Fatalf("output does not match %s:\n%s", want, out)
	}
	if !bytes.Equal(m[1], m[2]) {
		t.Errorf("attached to pid %s, started pid %s", m[2], m[1])
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
}
