package nfsmount

import (
	"bytes"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsMountedProc(t *testing.T) {
	ok, err := IsMounted("/")
	require.NoError(t, err)
	require.True(t, ok, "/ is always a mount point")
	ok, err = IsMounted(t.TempDir())
	require.NoError(t, err)
	require.False(t, ok)
}

func TestKernelNFSMatchesProc(t *testing.T) {
	b, err := os.ReadFile("/proc/filesystems")
	require.NoError(t, err)
	require.Equal(t, HasNFS(bytes.NewReader(b)), KernelNFS())
}
