package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampletest"
)

func TestMain(m *testing.M) { exampletest.Main(m) }

const wantTail = `Wrote notes/hello.txt \(16 bytes\)
Wrote notes/todo.txt \(31 bytes\)
Wrote data.csv \(22 bytes\)
Files in the workspace:
  data.csv         -rw-r--r-- 22 bytes
  notes            drwxr-xr-x \d+ bytes
  notes/hello.txt  -rw-r--r-- 16 bytes
  notes/todo.txt   -rw-r--r-- 31 bytes
File API reads notes/hello.txt: "Hello over NFS!\\n"
Sandbox ` + "`cat notes/hello.txt`" + `: "Hello over NFS!\\n"
`

func TestUserspace(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := run(t.Context(), c, &out, ""); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	want := regexp.MustCompile(`^Created workspace: \S+ \(nfs://\S+\)
Opened a userspace NFS session \(no mount, no root needed\)
` + wantTail + `$`)
	if !want.Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", want, out.String())
	}
}

// TestKernel asks for a kernel mount: where the kernel (or the user) cannot
// mount NFS the example says why and falls back to the userspace session;
// where it can, it really mounts.
func TestKernel(t *testing.T) {
	c, cleanup, err := exampleenv.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	fsTypes, _ := os.ReadFile("/proc/filesystems")
	canMount := os.Geteuid() == 0 && regexp.MustCompile(`(?m)\snfs$`).Match(fsTypes)
	dir := filepath.Join(t.TempDir(), "mnt")
	var out bytes.Buffer
	if err := run(t.Context(), c, &out, dir); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}
	var want *regexp.Regexp
	if canMount {
		t.Log("this machine can kernel-mount NFS: the example mounted for real")
		want = regexp.MustCompile(`^Created workspace: \S+ \(nfs://\S+\)
Mounted at ` + regexp.QuoteMeta(dir) + ` \(kernel NFS client\)
` + wantTail + `Unmounted ` + regexp.QuoteMeta(dir) + `
$`)
	} else {
		t.Log("no kernel NFS mount possible here: checking the fallback to the userspace session")
		want = regexp.MustCompile(`^Created workspace: \S+ \(nfs://\S+\)
Kernel mount not possible here: .+
Using the userspace NFS session instead.
Opened a userspace NFS session \(no mount, no root needed\)
` + wantTail + `$`)
	}
	if !want.Match(out.Bytes()) {
		t.Errorf("output does not match %s:\n%s", want, out.String())
	}
	if !canMount && strings.Contains(out.String(), "Mounted at") {
		t.Error("mounted although the kernel cannot")
	}
}
