//go:build !windows

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
	"strings"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
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

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
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
		uidRange  = flag.String("uid-range", env("WORKSPACE_UID_RANGE", "100000:65536"), "host uids for sandboxes when run as root: START:COUNT gives each workspace its own uid, \"single\" runs all as -sandbox-uid (WORKSPACE_UID_RANGE)")
		res       = resourceFlags(flag)
		maxUpload = flag.Int64("max-upload-bytes", envInt64("WORKSPACE_MAX_UPLOAD_BYTES", 0), "largest files.raw upload in bytes, answered 413 above it; 0 = no limit (WORKSPACE_MAX_UPLOAD_BYTES)")
		procOut   = flag.Int64("process-output-bytes", envInt64("WORKSPACE_PROCESS_OUTPUT_BYTES", server.DefaultProcessOutputBytes), "output each detached process keeps for replay, at least 1 MiB (WORKSPACE_PROCESS_OUTPUT_BYTES)")
		procCap   = flag.Int64("process-retain-bytes", envInt64("WORKSPACE_PROCESS_RETAIN_BYTES", server.DefaultProcessRetainBytes), "output all detached processes keep together (WORKSPACE_PROCESS_RETAIN_BYTES)")
		procKeep  = flag.Duration("process-retention", envDuration("WORKSPACE_PROCESS_RETENTION", server.DefaultProcessRetention), "how long exited detached processes stay listed (WORKSPACE_PROCESS_RETENTION)")
		watchQ    = flag.Int("watch-queue", envInt("WORKSPACE_WATCH_QUEUE", server.DefaultWatchQueue), "events a file watch holds for a slow client before it reports an overflow (WORKSPACE_WATCH_QUEUE)")
		logLevel  = flag.String("log-level", env("WORKSPACE_LOG_LEVEL", "info"), "log level: debug, info, warn, error (WORKSPACE_LOG_LEVEL)")
		keyFile   = flag.String("api-key-file", env("WORKSPACE_API_KEY_FILE", ""), "read the API key from this file (first line); keeps it out of ps (WORKSPACE_API_KEY_FILE)")

		maxBody     = flag.Int64("max-body-bytes", envInt64("WORKSPACE_MAX_BODY_BYTES", server.DefaultMaxBodyBytes), "largest JSON request body, 413 above it (WORKSPACE_MAX_BODY_BYTES)")
		maxJSONRead = flag.Int64("max-json-read-bytes", envInt64("WORKSPACE_MAX_JSON_READ_BYTES", server.DefaultMaxJSONReadBytes), "largest file read through the JSON file route, 413 above it (files/raw has no limit) (WORKSPACE_MAX_JSON_READ_BYTES)")
		maxName     = flag.Int("max-name-bytes", envInt("WORKSPACE_MAX_NAME_BYTES", server.DefaultMaxNameBytes), "longest workspace or sandbox name (WORKSPACE_MAX_NAME_BYTES)")
		maxMeta     = flag.Int("max-metadata-bytes", envInt("WORKSPACE_MAX_METADATA_BYTES", server.DefaultMaxMetadataBytes), "largest metadata object (WORKSPACE_MAX_METADATA_BYTES)")
		maxEnv      = flag.Int("max-env-bytes", envInt("WORKSPACE_MAX_ENV_BYTES", server.DefaultMaxEnvBytes), "largest environment of a sandbox, run or PTY (WORKSPACE_MAX_ENV_BYTES)")
		maxArgs     = flag.Int("max-args-bytes", envInt("WORKSPACE_MAX_ARGS_BYTES", server.DefaultMaxArgsBytes), "largest command line (command and args) (WORKSPACE_MAX_ARGS_BYTES)")
		maxOutput   = flag.Int("max-run-output-bytes", envInt("WORKSPACE_MAX_RUN_OUTPUT_BYTES", server.DefaultMaxRunOutputBytes), "output a run keeps per stream; the rest is dropped and flagged truncated (WORKSPACE_MAX_RUN_OUTPUT_BYTES)")
		maxTimeout  = flag.Duration("max-timeout", envDuration("WORKSPACE_MAX_TIMEOUT", server.DefaultMaxTimeout), "longest sandbox or run timeout (WORKSPACE_MAX_TIMEOUT)")
		minFree     = flag.Int64("min-free-bytes", envInt64("WORKSPACE_MIN_FREE_BYTES", server.DefaultMinFreeBytes), "free space kept on the data dir's disk: writes and creates are refused (507) below it; -1 = none (WORKSPACE_MIN_FREE_BYTES)")
		maxConns    = flag.Int("max-connections", envInt("WORKSPACE_MAX_CONNECTIONS", server.DefaultMaxConnections), "most open HTTP connections (at most half the file limit) (WORKSPACE_MAX_CONNECTIONS)")
		hdrTimeout  = flag.Duration("header-timeout", envDuration("WORKSPACE_HEADER_TIMEOUT", server.DefaultHeaderTimeout), "time to read request headers (WORKSPACE_HEADER_TIMEOUT)")
		bodyTimeout = flag.Duration("body-timeout", envDuration("WORKSPACE_BODY_TIMEOUT", server.DefaultBodyTimeout), "time to read a JSON request body (WORKSPACE_BODY_TIMEOUT)")
		xferIdle    = flag.Duration("transfer-idle-timeout", envDuration("WORKSPACE_TRANSFER_IDLE_TIMEOUT", server.DefaultTransferIdleTimeout), "time an upload may go without 64 KiB of progress (WORKSPACE_TRANSFER_IDLE_TIMEOUT)")
		idleTimeout = flag.Duration("idle-timeout", envDuration("WORKSPACE_IDLE_TIMEOUT", server.DefaultIdleTimeout), "time an idle keep-alive connection stays open (WORKSPACE_IDLE_TIMEOUT)")
		agentPath   = flag.String("agent", env("WORKSPACE_AGENT", ""), "sandbox agent executable (cmd/workspace-agent); default: workspace-agent next to this binary when installed there, else this binary itself (WORKSPACE_AGENT)")
		agentWait   = flag.Duration("agent-timeout", envDuration("WORKSPACE_AGENT_TIMEOUT", sandbox.DefaultAgentTimeout), "how long a sandbox's agent has to answer before the sandbox is failed (state error, 504/5002) (WORKSPACE_AGENT_TIMEOUT)")
		shmSize     = flag.Int64("shm-size-bytes", envInt64("WORKSPACE_SHM_SIZE_BYTES", sandbox.DefaultShmSize), "size of each sandbox's /dev/shm (WORKSPACE_SHM_SIZE_BYTES)")
		hosts       = flag.String("allowed-hosts", env("WORKSPACE_ALLOWED_HOSTS", ""), "comma-separated host names allowed in the Host header besides IP addresses, loopback names and -host; * = any (WORKSPACE_ALLOWED_HOSTS)")
	)
	if err := flag.Parse(args); err != nil {
		return err
	}
	uids, err := server.ParseUIDRange(*uidRange)
	if err != nil {
		return err
	}
	if res.DefaultMemoryMB < 0 || res.MaxMemoryMB < 0 || res.DefaultPids < 0 || res.MaxPids < 0 || res.DefaultCPUs < 0 || res.MaxCPUs < 0 {
		return fmt.Errorf("sandbox resource defaults and maxima must be 0 (none) or more")
	}
	if *procOut < server.DefaultProcessOutputBytes || *procCap < *procOut || *procKeep <= 0 || *watchQ <= 0 {
		return fmt.Errorf("bad -process-output-bytes, -process-retain-bytes, -process-retention or -watch-queue: want output >= 1 MiB, retain >= output, retention and queue > 0")
	}
	if *maxUpload < 0 {
		return fmt.Errorf("bad -max-upload-bytes %d: want 0 (no limit) or more", *maxUpload)
	}
	for _, l := range []struct {
		name string
		v    int64
	}{
		{"max-body-bytes", *maxBody}, {"max-json-read-bytes", *maxJSONRead}, {"max-name-bytes", int64(*maxName)},
		{"max-metadata-bytes", int64(*maxMeta)}, {"max-env-bytes", int64(*maxEnv)}, {"max-args-bytes", int64(*maxArgs)},
		{"max-run-output-bytes", int64(*maxOutput)}, {"max-connections", int64(*maxConns)},
		{"max-timeout", int64(*maxTimeout)}, {"header-timeout", int64(*hdrTimeout)}, {"body-timeout", int64(*bodyTimeout)},
		{"transfer-idle-timeout", int64(*xferIdle)}, {"idle-timeout", int64(*idleTimeout)},
		{"agent-timeout", int64(*agentWait)}, {"shm-size-bytes", *shmSize},
	} {
		if l.v <= 0 {
			return fmt.Errorf("bad -%s: want more than 0", l.name)
		}
	}
	key := *apiKey
	if *keyFile != "" {
		b, err := os.ReadFile(*keyFile)
		if err != nil {
			return fmt.Errorf("-api-key-file: %w", err)
		}
		key, _, _ = strings.Cut(string(b), "\n")
		if key = strings.TrimSpace(key); key == "" {
			return fmt.Errorf("-api-key-file %s: empty", *keyFile)
		}
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("bad -log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if flagSet(flag, "api-key") {
		logger.Warn("the API key is on the command line, where ps shows it to every user; use -api-key-file or WORKSPACE_API_KEY")
	}

	if err := os.MkdirAll(*dataDir, 0o711); err != nil {
		return err
	}
	cfg := server.Config{
		DataDir:        *dataDir,
		HTTPAddr:       net.JoinHostPort(*host, strconv.Itoa(*port)),
		NFSHost:        *nfsHost,
		APIKey:         key,
		BaseMode:       *baseMode,
		ShareNetwork:   *shareNet,
		TemplatesFile:  *templates,
		MaxSandboxes:   *maxSbx,
		MaxUploadBytes: *maxUpload,
		UID:            *uid,
		GID:            *gid,
		UIDRange:       uids,
		Resources:      *res,
		Logger:         logger,

		MaxBodyBytes:        *maxBody,
		MaxJSONReadBytes:    *maxJSONRead,
		MaxNameBytes:        *maxName,
		MaxMetadataBytes:    *maxMeta,
		MaxEnvBytes:         *maxEnv,
		MaxArgsBytes:        *maxArgs,
		MaxRunOutputBytes:   *maxOutput,
		MaxTimeout:          *maxTimeout,
		MinFreeBytes:        *minFree,
		MaxConnections:      *maxConns,
		HeaderTimeout:       *hdrTimeout,
		BodyTimeout:         *bodyTimeout,
		TransferIdleTimeout: *xferIdle,
		IdleTimeout:         *idleTimeout,
		AllowedHosts:        splitList(*hosts),
		AgentPath:           agentExecutable(*agentPath),
		AgentTimeout:        *agentWait,
		ShmSize:             *shmSize,
		ProcessOutputBytes:  *procOut,
		ProcessRetainBytes:  *procCap,
		ProcessRetention:    *procKeep,
		WatchQueue:          *watchQ,
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

// agentExecutable returns the sandbox agent to use: the -agent flag when
// set, else cmd/workspace-agent installed next to this binary (go install
// ./cmd/... puts both in GOBIN), else "" (the server re-executes itself;
// its start-up costs each sandbox start several milliseconds more).
func agentExecutable(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "workspace-agent")
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
		return p
	}
	return ""
}
