package workspace

import (
	"context"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/internal/server"
)

// TestNFSExportNeedsTokenWithAPIKey: with an API key, the export path in
// nfs_url carries a per-workspace token; the nfs_url mounts, the bare id
// (all an NFS client without the key could know) does not. Without a key
// the export is the id, as upstream.
func TestNFSExportNeedsTokenWithAPIKey(t *testing.T) {
	for _, key := range []string{"secret-key", ""} {
		// The sandbox uid must be able to search the data dir (the run dir
		// with the agent is inside it): t.TempDir's parent is 0700.
		dataDir, err := os.MkdirTemp("", "nfs-export-token-")
		require.NoError(t, err)
		require.NoError(t, os.Chmod(dataDir, 0o711))
		t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
		in, err := server.Listen(server.Config{
			DataDir:  dataDir,
			HTTPAddr: "127.0.0.1:0",
			NFSAddr:  "127.0.0.1:0",
			APIKey:   key,
			Logger:   slog.New(slog.DiscardHandler),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = in.Close() })
		var opts []Option
		if key != "" {
			opts = append(opts, WithAPIKey(key))
		}
		c, err := NewClient(in.URL, opts...)
		require.NoError(t, err)
		ctx := context.Background()
		ws, err := c.Workspace.Create(ctx, nil)
		require.NoError(t, err)
		u, err := url.Parse(ws.NFSURL)
		require.NoError(t, err)

		fsys, err := c.NFS.Open(ctx, ws.ID)
		require.NoError(t, err, "the nfs_url path mounts")
		require.NoError(t, fsys.WriteFile("x.txt", []byte("via nfs_url"), 0o644))
		require.NoError(t, fsys.Close())

		bare, err := openNFS(ctx, in.NFSAddr, "/"+ws.ID, NFSOptions{})
		if key == "" {
			require.Equal(t, "/"+ws.ID, u.Path, "no key: exported by id")
			require.NoError(t, err)
			require.NoError(t, bare.Close())
			c.Close()
			continue
		}
		require.True(t, strings.HasPrefix(u.Path, "/"+ws.ID+"."), "export path %q carries a token", u.Path)
		require.Greater(t, len(u.Path), len("/"+ws.ID)+30)
		require.ErrorIs(t, err, fs.ErrNotExist, "the bare id does not mount with a key")
		require.Nil(t, bare)
		c.Close()
	}
}
