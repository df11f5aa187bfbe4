package workspace

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportGuard keeps server-side packages out of the SDK's import graph:
// users who import the SDK must not pull in the reference server, SQLite,
// PTY allocation or the NFS server.
func TestImportGuard(t *testing.T) {
	goBin := goTool(t)
	out, err := exec.Command(goBin, "list", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	forbidden := []string{
		"github.com/elevo/workspace-sdk-go/internal/server",
		"github.com/elevo/workspace-sdk-go/internal/sandbox",
		"github.com/elevo/workspace-sdk-go/internal/store",
		"github.com/elevo/workspace-sdk-go/internal/nfsserver",
		"modernc.org/sqlite",
		"github.com/creack/pty",
		"github.com/willscott/go-nfs",
		"github.com/go-git/go-billy",
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, bad := range forbidden {
			// go-nfs-client is allowed, the go-nfs server is not.
			if dep == bad || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("the root package depends on %s", dep)
			}
		}
	}
}

// TestCrossBuild checks that the SDK builds for darwin and windows.
func TestCrossBuild(t *testing.T) {
	goBin := goTool(t)
	for _, goos := range []string{"darwin", "windows"} {
		cmd := exec.Command(goBin, "build", "-o", os.DevNull, ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "GOOS=%s: %s", goos, out)
	}
}

func goTool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool must be on PATH")
	return p
}
