//go:build !windows

package nfsserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
)

// TestExportTokenRequired: with an export key, only "<id>.<token>" mounts;
// the bare id, another workspace's token, a truncated or altered token
// are refused.
func TestExportTokenRequired(t *testing.T) {
	key, err := LoadOrCreateExportKey(filepath.Join(t.TempDir(), "nfs-export.key"))
	require.NoError(t, err)
	ts := startServer(t, map[string]string{"ws-1": t.TempDir(), "ws-2": t.TempDir()}, Config{ExportKey: key})
	c := dial(t, ts.addr)
	name := ExportName(key, "ws-1")
	require.True(t, strings.HasPrefix(name, "ws-1."))
	require.NotEmpty(t, rawMount(t, c, "/"+name))
	other := ExportName(key, "ws-2")
	tok := name[len("ws-1."):]
	altered := []byte(tok)
	altered[0] ^= 1
	for _, p := range []string{"/ws-1", "ws-1", "/ws-1." + other[len("ws-2."):], "/ws-1." + tok[:len(tok)-1], "/ws-1." + string(altered), "/ws-1.", "/." + tok} {
		_, err := (&nfsc.Mount{Client: c}).Mount(p, rpc.AuthNull)
		require.Error(t, err, "mount %q", p)
	}
	require.Equal(t, "ws-1", ExportName(nil, "ws-1"), "no key: exports stay by id")
}

// TestExportKeyFile: the key is created 0600 once and read back the same;
// a key file others can read is refused.
func TestExportKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k")
	k1, err := LoadOrCreateExportKey(p)
	require.NoError(t, err)
	st, err := os.Stat(p)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	k2, err := LoadOrCreateExportKey(p)
	require.NoError(t, err)
	require.Equal(t, k1, k2)
	require.NoError(t, os.Chmod(p, 0o644))
	_, err = LoadOrCreateExportKey(p)
	require.ErrorContains(t, err, "readable by others")
}
