package exampleenv

import (
	"log/slog"
	"os"

	"github.com/elevo/workspace-sdk-go/internal/server"
)

// startEmbedded starts the reference server in this process with its data
// in dir: HTTP and NFS on 127.0.0.1, each on a free port. Its log shows
// warnings and errors only, unless WORKSPACE_EXAMPLE_DEBUG is set.
func startEmbedded(dir string) (*server.Instance, error) {
	level := slog.LevelWarn
	if os.Getenv("WORKSPACE_EXAMPLE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	// The sandbox uid must traverse the data directory to reach
	// /workspace when the server runs as root.
	if err := os.Chmod(dir, 0o711); err != nil {
		return nil, err
	}
	return server.Listen(server.Config{
		DataDir:  dir,
		HTTPAddr: "127.0.0.1:0",
		NFSAddr:  "127.0.0.1:0",
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
}
