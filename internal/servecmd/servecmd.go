// Package servecmd is the reference server's command line: its flags, their
// environment fallbacks, and the serve loop. Both cmd/workspace-server and
// the workspace command's "serve" subcommand run it, so the two take the
// same flags.
package servecmd

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/server"
)

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func envInt64(name string, def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(name), 10, 64); err == nil {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}

// Run parses args (the flags of workspace-server, without the program
// name), starts the server, calls ready (when not nil) once it listens, and
// serves until ctx ends; then it kills every sandbox and returns. name is
// used in usage messages.
func Run(ctx context.Context, name string, args []string, stderr io.Writer, ready func(*server.Instance)) error {
	home, _ := os.UserHomeDir()
	defData := filepath.Join(home, ".local", "share", "workspace-server")
	flag := flag.NewFlagSet(name, flag.ContinueOnError)
	flag.SetOutput(stderr)
	var (
		host      = flag.String("host", env("WORKSPACE_HTTP_HOST", "127.0.0.1"), "HTTP listen host (WORKSPACE_HTTP_HOST)")
		port      = flag.Int("port", envInt("WORKSPACE_HTTP_PORT", 8080), "HTTP listen port (WORKSPACE_HTTP_PORT)")
		dataDir   = flag.String("data-dir", env("WORKSPACE_DATA_DIR", defData), "data directory: database and workspace files (WORKSPACE_DATA_DIR)")
		apiKey    = flag.String("api-key", env("WORKSPACE_API_KEY", ""), "require this API key as a Bearer token (WORKSPACE_API_KEY)")
		nfsPort   = flag.Int("nfs-port", envInt("WORKSPACE_NFS_PORT", 2049), "NFS listen port; 0 picks a free port, -1 turns NFS off (WORKSPACE_NFS_PORT)")
		nfsBind   = flag.String("nfs-bind", env("WORKSPACE_NFS_BIND", "127.0.0.1"), "NFS listen host (WORKSPACE_NFS_BIND)")
		nfsHost   = flag.String("nfs-host", env("WORKSPACE_NFS_HOST", ""), "host written into nfs_url; default the NFS listen host (WORKSPACE_NFS_HOST)")
		shareNet  = flag.Bool("share-network", envBool("WORKSPACE_SHARE_NETWORK"), "share the host network with sandboxes (WORKSPACE_SHARE_NETWORK)")
		templates = flag.String("templates", env("WORKSPACE_TEMPLATES", ""), "JSON file mapping template names to root filesystem directories (WORKSPACE_TEMPLATES)")
		baseMode  = flag.Bool("base-mode", envBool("WORKSPACE_BASE_MODE"), "advertise no features and answer like the upstream server (WORKSPACE_BASE_MODE)")
		maxSbx    = flag.Int("max-sandboxes", envInt("WORKSPACE_MAX_SANDBOXES", 0), "maximum live sandboxes, 0 = no limit (WORKSPACE_MAX_SANDBOXES)")
		uid       = flag.Int("sandbox-uid", envInt("WORKSPACE_SANDBOX_UID", 100000), "host uid of sandbox processes when run as root (WORKSPACE_SANDBOX_UID)")
		gid       = flag.Int("sandbox-gid", envInt("WORKSPACE_SANDBOX_GID", 100000), "host gid of sandbox processes when run as root (WORKSPACE_SANDBOX_GID)")
		maxUpload = flag.Int64("max-upload-bytes", envInt64("WORKSPACE_MAX_UPLOAD_BYTES", 0), "largest files.raw upload in bytes, answered 413 above it; 0 = no limit (WORKSPACE_MAX_UPLOAD_BYTES)")
		procOut   = flag.Int64("process-output-bytes", envInt64("WORKSPACE_PROCESS_OUTPUT_BYTES", server.DefaultProcessOutputBytes), "output each detached process keeps for replay, at least 1 MiB (WORKSPACE_PROCESS_OUTPUT_BYTES)")
		procCap   = flag.Int64("process-retain-bytes", envInt64("WORKSPACE_PROCESS_RETAIN_BYTES", server.DefaultProcessRetainBytes), "output all detached processes keep together (WORKSPACE_PROCESS_RETAIN_BYTES)")
		procKeep  = flag.Duration("process-retention", envDuration("WORKSPACE_PROCESS_RETENTION", server.DefaultProcessRetention), "how long exited detached processes stay listed (WORKSPACE_PROCESS_RETENTION)")
		watchQ    = flag.Int("watch-queue", envInt("WORKSPACE_WATCH_QUEUE", server.DefaultWatchQueue), "events a file watch holds for a slow client before it reports an overflow (WORKSPACE_WATCH_QUEUE)")
		logLevel  = flag.String("log-level", env("WORKSPACE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (WORKSPACE_LOG_LEVEL)")
	)
	if err := flag.Parse(args); err != nil {
		return err
	}
	if *procOut < server.DefaultProcessOutputBytes || *procCap < *procOut || *procKeep <= 0 || *watchQ <= 0 {
		return fmt.Errorf("bad -process-output-bytes, -process-retain-bytes, -process-retention or -watch-queue: want output >= 1 MiB, retain >= output, retention and queue > 0")
	}
	if *maxUpload < 0 {
		return fmt.Errorf("bad -max-upload-bytes %d: want 0 (no limit) or more", *maxUpload)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	if err := os.MkdirAll(*dataDir, 0o711); err != nil {
		return err
	}
	cfg := server.Config{
		DataDir:        *dataDir,
		HTTPAddr:       net.JoinHostPort(*host, strconv.Itoa(*port)),
		NFSHost:        *nfsHost,
		APIKey:         *apiKey,
		BaseMode:       *baseMode,
		ShareNetwork:   *shareNet,
		TemplatesFile:  *templates,
		MaxSandboxes:   *maxSbx,
		MaxUploadBytes: *maxUpload,
		UID:            *uid,
		GID:            *gid,
		Logger:         logger,

		ProcessOutputBytes: *procOut,
		ProcessRetainBytes: *procCap,
		ProcessRetention:   *procKeep,
		WatchQueue:         *watchQ,
	}
	if *nfsPort >= 0 {
		cfg.NFSAddr = net.JoinHostPort(*nfsBind, strconv.Itoa(*nfsPort))
	}
	in, err := server.Listen(cfg)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(in)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return in.Close()
}
