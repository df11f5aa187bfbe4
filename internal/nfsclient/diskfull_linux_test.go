package nfsclient

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDiskFullSurfacesFromClose: the server's data dir is an 8 MiB tmpfs;
// writing 16 MiB through the pipeline fails with ENOSPC, and Close returns
// it (the Writes may all have succeeded: the WRITEs are in the background).
func TestDiskFullSurfacesFromClose(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=8m"); err != nil {
		t.Skipf("cannot mount tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	ts := startServer(t, dir)
	c := dialTest(t, ts, Options{})
	f := createTest(t, c, "big")
	chunk := randomBytes(64 << 10)
	var werr error
	for off := 0; off < 16<<20 && werr == nil; off += len(chunk) {
		_, werr = f.Write(chunk, int64(off))
	}
	err := f.Close()
	require.Error(t, err)
	require.True(t, errors.Is(err, syscall.ENOSPC), "got %v", err)
	require.Equal(t, "no space left on device", err.Error())
	if werr != nil {
		require.Equal(t, err, werr, "a Write saw the same sticky error")
	}
}
