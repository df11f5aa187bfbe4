package workspace_test

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"io"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// TestIntegrationNFSZip: archive/zip reads an archive stored in the
// workspace through NFS.Open (many small ReadAts at scattered offsets).
func TestIntegrationNFSZip(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := nfsCtx(t)
	ws, _ := nfsSandbox(t, c)

	var archive bytes.Buffer
	zw := zip.NewWriter(&archive)
	want := map[string][]byte{}
	for i, size := range []int{0, 1, 4095, 4096, 70000, 1<<20 + 3} {
		name := string(rune('a'+i)) + ".bin"
		data := make([]byte, size)
		_, _ = rand.Read(data)
		method := zip.Store
		if i%2 == 0 {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		want[name] = data
	}
	require.NoError(t, zw.Close())
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "archive.zip", archive.Bytes()))

	fsys := openNFS(t, c, ws.ID)
	f, err := fsys.Open("archive.zip")
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	zr, err := zip.NewReader(f.(io.ReaderAt), st.Size())
	require.NoError(t, err)
	require.Len(t, zr.File, len(want))
	for _, zf := range zr.File {
		rc, err := zf.Open()
		require.NoError(t, err)
		got, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		require.True(t, bytes.Equal(want[zf.Name], got), zf.Name)
	}
	// The zip.Reader is an fs.FS too: walk it through the NFS file.
	require.NoError(t, fs.WalkDir(zr, ".", func(string, fs.DirEntry, error) error { return nil }))
}

// TestIntegrationNFSCacheSeesSandboxRewrite: bytes cached by the session
// are not served after a sandbox rewrote the file: a reopen sees the new
// bytes at once (close-to-open), and the file kept open sees them once
// its attributes are revalidated (the attribute timeout, 1 s).
func TestIntegrationNFSCacheSeesSandboxRewrite(t *testing.T) {
	srv := workspacetest.NewServer(t)
	c := srv.Client()
	ctx := nfsCtx(t)
	ws, sb := nfsSandbox(t, c)
	old := bytes.Repeat([]byte("old!"), 5000)
	require.NoError(t, c.Workspace.WriteFile(ctx, ws.ID, "f.txt", old))

	fsys := openNFS(t, c, ws.ID)
	kept, err := fsys.Open("f.txt")
	require.NoError(t, err)
	defer kept.Close()
	ra := kept.(io.ReaderAt)
	buf := make([]byte, 8)
	_, err = ra.ReadAt(buf, 8000)
	require.NoError(t, err)
	require.Equal(t, "old!old!", string(buf))

	// Same length: only the attributes' times tell the change.
	sh(t, c, sb.ID, `cd /workspace && awk 'BEGIN{for(i=0;i<5000;i++) printf "new!"}' > f.tmp && mv f.tmp f.txt`)

	reopened, err := fsys.Open("f.txt")
	require.NoError(t, err)
	_, err = reopened.(io.ReaderAt).ReadAt(buf, 8000)
	require.NoError(t, err)
	require.Equal(t, "new!new!", string(buf), "close-to-open: a reopen sees the rewrite")
	require.NoError(t, reopened.Close())

	// The file opened before the rename still names the old inode (which
	// NFS keeps by path here): once revalidated it reads the new bytes.
	require.Eventually(t, func() bool {
		_, err := ra.ReadAt(buf, 8000)
		return err == nil && string(buf) == "new!new!"
	}, 10*time.Second, 50*time.Millisecond)
}
