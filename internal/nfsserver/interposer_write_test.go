//go:build !windows

package nfsserver

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// writeReply is a WRITE reply, decoded.
type writeReply struct {
	Status    uint32
	Wcc       nfsc.WccData
	Count     uint32
	Committed uint32
	Verf      [8]byte
}

func rawWrite(t *testing.T, c *rpc.Client, fh []byte, off uint64, data []byte, stable uint32) writeReply {
	t.Helper()
	res, err := c.Call(&struct {
		rpc.Header
		FH     []byte
		Offset uint64
		Count  uint32
		Stable uint32
		Data   []byte
	}{hdr(nfsc.NFSProc3Write), fh, off, uint32(len(data)), stable, data})
	require.NoError(t, err)
	var r writeReply
	r.Status, err = xdr.ReadUint32(res)
	require.NoError(t, err)
	require.NoError(t, xdr.Read(res, &r.Wcc))
	if r.Status == 0 {
		require.NoError(t, xdr.Read(res, &struct {
			C *uint32
			S *uint32
			V *[8]byte
		}{&r.Count, &r.Committed, &r.Verf}))
	}
	return r
}

func rawCommit(t *testing.T, c *rpc.Client, fh []byte) (uint32, [8]byte) {
	t.Helper()
	res, err := c.Call(&offsetCountArgs{hdr(nfsc.NFSProc3Commit), fh, 0, 0})
	require.NoError(t, err)
	st, err := xdr.ReadUint32(res)
	require.NoError(t, err)
	var r struct {
		Wcc  nfsc.WccData
		Verf [8]byte
	}
	if st == 0 {
		require.NoError(t, xdr.Read(res, &r))
	}
	return st, r.Verf
}

// TestWriteStabilityIsTruthful: an UNSTABLE WRITE is answered UNSTABLE, a
// FILE_SYNC one FILE_SYNC, both with the server's verifier, which COMMIT
// repeats; another server instance has another verifier.
func TestWriteStabilityIsTruthful(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644))
	verfs := map[[8]byte]bool{}
	for range 2 {
		ts := startServer(t, map[string]string{"ws": dir}, Config{})
		c := dial(t, ts.addr)
		root := rawMount(t, c, "/ws")
		st, fh, _ := rawLookup(t, c, root, "f")
		require.EqualValues(t, 0, st)

		u := rawWrite(t, c, fh, 2, []byte("ab"), 0)
		require.EqualValues(t, 0, u.Status)
		require.EqualValues(t, 2, u.Count)
		require.EqualValues(t, 0, u.Committed, "UNSTABLE answered UNSTABLE")
		require.True(t, u.Wcc.Before.IsSet && u.Wcc.After.IsSet)
		require.EqualValues(t, 10, u.Wcc.After.Attr.Filesize)

		s := rawWrite(t, c, fh, 10, []byte("XYZ"), 2)
		require.EqualValues(t, 0, s.Status)
		require.EqualValues(t, 2, s.Committed, "FILE_SYNC answered FILE_SYNC")
		require.Equal(t, u.Verf, s.Verf)
		require.EqualValues(t, 13, s.Wcc.After.Attr.Filesize)

		cst, verf := rawCommit(t, c, fh)
		require.EqualValues(t, 0, cst)
		require.Equal(t, u.Verf, verf)
		verfs[verf] = true

		got, err := os.ReadFile(filepath.Join(dir, "f"))
		require.NoError(t, err)
		require.Equal(t, "01ab456789XYZ", string(got))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("0123456789"), 0o644))
	}
	require.Len(t, verfs, 2, "each server instance has its own verifier")
}

// TestWriteRefusedCases: WRITEs the interposer does not answer (a
// directory, a stale handle) get go-nfs's errors.
func TestWriteRefusedCases(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	ts := startServer(t, map[string]string{"ws": dir}, Config{})
	c := dial(t, ts.addr)
	root := rawMount(t, c, "/ws")
	st, sub, _ := rawLookup(t, c, root, "sub")
	require.EqualValues(t, 0, st)
	require.NotEqualValues(t, 0, rawWrite(t, c, sub, 0, []byte("x"), 0).Status)
	stale := append([]byte{}, sub...)
	stale[len(stale)-1] ^= 1
	require.EqualValues(t, 70, rawWrite(t, c, stale, 0, []byte("x"), 0).Status)
	cst, _ := rawCommit(t, c, stale)
	require.EqualValues(t, 70, cst)
}
