package mountinfo

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const mountinfo = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
35 22 0:31 / /mnt/my\040workspace rw,relatime shared:20 - nfs 127.0.0.1:/ws-1 rw,vers=3,port=2049
36 22 0:32 / /mnt/tab\011and\134slash rw - tmpfs tmp\040fs rw
37 35 0:33 / /mnt/my\040workspace rw - nfs 127.0.0.1:/ws-2 rw,vers=3
`

func TestParse(t *testing.T) {
	es, err := Parse(strings.NewReader(mountinfo))
	require.NoError(t, err)
	require.Len(t, es, 4)
	require.Equal(t, Entry{ID: 35, ParentID: 22, Root: "/", MountPoint: "/mnt/my workspace", FSType: "nfs", Source: "127.0.0.1:/ws-1", Options: "rw,vers=3,port=2049"}, es[1])
	require.Equal(t, "/mnt/tab\tand\\slash", es[2].MountPoint)
	require.Equal(t, "tmp fs", es[2].Source)

	e, ok := Find(es, "/mnt/my workspace/")
	require.True(t, ok)
	require.Equal(t, "127.0.0.1:/ws-2", e.Source, "the topmost mount wins")
	_, ok = Find(es, "/mnt/my")
	require.False(t, ok)
	_, ok = Find(es, `/mnt/my\040workspace`)
	require.False(t, ok, "escaped form is not the path")

	_, err = Parse(strings.NewReader("garbage line\n"))
	require.Error(t, err)
}

func TestUnescape(t *testing.T) {
	require.Equal(t, `a\b`, unescape(`a\b`))
	require.Equal(t, `a\9xx`, unescape(`a\9xx`))
	require.Equal(t, `end\04`, unescape(`end\04`))
	require.Equal(t, "a b", unescape(`a\040b`))
}
