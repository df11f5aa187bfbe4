//go:build !windows

package nfsserver

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOwnerOfPerWorkspace: with Config.OwnerOf, what a client creates in
// a workspace belongs to that workspace's own uid.
func TestOwnerOfPerWorkspace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	a, b := t.TempDir(), t.TempDir()
	owners := map[string]int{"ws-a": 300001, "ws-b": 300002}
	ts := startServer(t, map[string]string{"ws-a": a, "ws-b": b}, Config{OwnerOf: func(id string) (int, int) {
		return owners[id], owners[id]
	}})
	for id, dir := range map[string]string{"ws-a": a, "ws-b": b} {
		tgt, _ := mount(t, ts.addr, "/"+id)
		w, err := tgt.OpenFile("f", 0o644)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		st, err := os.Lstat(filepath.Join(dir, "f"))
		require.NoError(t, err)
		require.EqualValues(t, owners[id], st.Sys().(*syscall.Stat_t).Uid, id)
	}
}
