package nfsmount

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestArgs(t *testing.T) {
	require.Equal(t,
		[]string{"-t", "nfs", "-o", "nfsvers=3,tcp,nolock,port=2049,mountport=2049", "10.0.0.5:/ws-1", "/mnt/workspace"},
		Args("10.0.0.5", 2049, "/ws-1", "/mnt/workspace"))
	require.Equal(t,
		[]string{"-t", "nfs", "-o", "nfsvers=3,tcp,nolock,port=40123,mountport=40123", "[::1]:/ws-2", "/mnt/my dir"},
		Args("::1", 40123, "ws-2", "/mnt/my dir"))
}

func TestHasNFS(t *testing.T) {
	require.False(t, HasNFS(strings.NewReader("nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\tnfsd\n")))
	require.True(t, HasNFS(strings.NewReader("nodev\tsysfs\nnodev\tnfs\nnodev\tnfs4\n")))
}

func TestSplitHostPort(t *testing.T) {
	h, p, err := SplitHostPort("127.0.0.1:40000", 2049)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", h)
	require.Equal(t, 40000, p)
	h, p, err = SplitHostPort("nfs.example", 2049)
	require.NoError(t, err)
	require.Equal(t, "nfs.example", h)
	require.Equal(t, 2049, p)
	h, p, err = SplitHostPort("[::1]:5", 2049)
	require.NoError(t, err)
	require.Equal(t, "::1", h)
	require.Equal(t, 5, p)
	_, _, err = SplitHostPort("h:0", 2049)
	require.Error(t, err)
}
