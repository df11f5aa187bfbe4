package nfsserver

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Export tokens (used when the API server has an API key): the export of
// a workspace is "<id>.<token>", where token is the first 128 bits of
// HMAC-SHA256(export key, id) in hex. The export key is a secret of the
// server (kept in its data dir), so knowing a workspace id is not enough
// to mount it: the token comes only in the workspace's nfs_url, which
// only API callers with the key can read. With Config.ExportKey set, a
// MOUNT of the bare id, or with a wrong token, is refused like an unknown
// workspace.

// exportKeyLen is the size of a generated export key.
const exportKeyLen = 32

// exportTokenLen is the length of a token in hex digits.
const exportTokenLen = 32

// exportToken is the token of workspace id under key.
func exportToken(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))[:exportTokenLen]
}

// ExportName is the export path (without its leading "/") of workspace id:
// the id itself when key is empty, "<id>.<token>" otherwise.
func ExportName(key []byte, id string) string {
	if len(key) == 0 {
		return id
	}
	return id + "." + exportToken(key, id)
}

// workspaceOfExport returns the workspace id an export name stands for
// under key; ok is false for a name without the right token.
func workspaceOfExport(key []byte, name string) (string, bool) {
	if len(key) == 0 {
		return name, true
	}
	i := strings.LastIndexByte(name, '.')
	if i <= 0 {
		return "", false
	}
	id, tok := name[:i], name[i+1:]
	if !hmac.Equal([]byte(tok), []byte(exportToken(key, id))) {
		return "", false
	}
	return id, true
}

// LoadOrCreateExportKey reads the export key kept at path, creating it
// (random, mode 0600) on first use. A key file that is not private to its
// owner, or too short, is an error.
func LoadOrCreateExportKey(path string) ([]byte, error) {
	key := make([]byte, exportKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, werr := f.Write(key)
		if serr := f.Sync(); werr == nil {
			werr = serr
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return nil, fmt.Errorf("nfsserver: write export key: %w", werr)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("nfsserver: create export key: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("nfsserver: export key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("nfsserver: export key %s is readable by others (mode %v); chmod 600 it", path, st.Mode().Perm())
	}
	key, err = os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nfsserver: read export key: %w", err)
	}
	if len(key) < 16 {
		return nil, fmt.Errorf("nfsserver: export key %s is too short (%d bytes)", path, len(key))
	}
	return key, nil
}
