//go:build tools

// Pins the module's dependencies while the packages that use them are written.
package workspace

import (
	_ "github.com/coder/websocket"
	_ "github.com/creack/pty"
	_ "github.com/go-git/go-billy/v5"
	_ "github.com/stretchr/testify/require"
	_ "github.com/tmaxmax/go-sse"
	_ "github.com/willscott/go-nfs"
	_ "github.com/willscott/go-nfs-client/nfs"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "modernc.org/sqlite"
)
