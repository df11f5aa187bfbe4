//go:build !windows

package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/store"
)

// Version is the server version reported by GET /api/v1/health.
const Version = "0.1.0"

// Config configures a Server. The zero value of every field is a usable
// default except DataDir.
type Config struct {
	// AgentTimeout bounds every wait for a sandbox agent's answer; an agent
	// that does not answer in time fails its sandbox (state error,
	// 504/5002). Default sandbox.DefaultAgentTimeout.
	AgentTimeout time.Duration
	// ShmSize is the size in bytes of each sandbox's /dev/shm, charged to
	// its memory. Default sandbox.DefaultShmSize.
	ShmSize int64
	// DataDir holds workspace.db and workspaces/<id>/. Required.
	DataDir string
	// HTTPAddr is the listen address used by Listen; default 127.0.0.1:8080.
	HTTPAddr string
	// NFSAddr is the NFS listen address used by Listen (port 0 picks a
	// free port); empty turns NFS off and nfs_url is null.
	NFSAddr string
	// NFSHost is the host written into nfs_url; default the host of the
	// NFS listener (127.0.0.1 when it listens on every address).
	NFSHost string
	// APIKey, when set, is required as "Authorization: Bearer <key>" on
	// every route but /api/v1/health (feature "auth").
	APIKey string
	// BaseMode makes the server advertise no features and answer as the
	// upstream server does where shapes differ.
	BaseMode bool
	// ShareNetwork shares the host network with sandboxes (default: none).
	ShareNetwork bool
	// TemplatesFile is a JSON object mapping template names to root
	// filesystem directories, added to the built-in templates.
	TemplatesFile string
	// Templates maps more template names to root filesystem directories.
	Templates map[string]string
	// MaxSandboxes limits sandboxes starting, running or stopping at once
	// (429/2005 beyond it); 0 = no limit.
	MaxSandboxes int
	// UID and GID are the host ids sandbox processes run as when the
	// server runs as root; files the server creates in workspaces are
	// chowned to them. Default 100000.
	UID, GID int
	// UIDRange, when set, gives each workspace its own host uid (and
	// gid) from the range instead of UID/GID; root servers only.
	UIDRange UIDRange
	// Resources are the defaults and maxima of sandbox resources.
	Resources ResourceLimits
	// StopGrace is the time between SIGTERM and SIGKILL on a graceful
	// sandbox delete; default 2 s.
	StopGrace time.Duration
	// StartTimeout bounds a sandbox start; default 60 s.
	StartTimeout time.Duration
	// MaxBodyBytes limits JSON request bodies (413/1006 beyond it);
	// default DefaultMaxBodyBytes (2 MiB in base mode, like upstream).
	MaxBodyBytes int64
	// MaxJSONReadBytes limits a file read through the JSON route (413/1006
	// beyond it, naming files/raw); default DefaultMaxJSONReadBytes.
	MaxJSONReadBytes int64
	// MaxNameBytes, MaxMetadataBytes, MaxEnvBytes and MaxArgsBytes limit
	// names, metadata, environments and command lines (400/1002 beyond
	// them); defaults DefaultMax*.
	MaxNameBytes, MaxMetadataBytes, MaxEnvBytes, MaxArgsBytes int
	// MaxRunOutputBytes limits what a run keeps of each output stream;
	// default DefaultMaxRunOutputBytes.
	MaxRunOutputBytes int
	// MaxTimeout is the longest sandbox or run timeout (400/1002 beyond);
	// default DefaultMaxTimeout.
	MaxTimeout time.Duration
	// MinFreeBytes is the free space kept on the data dir's filesystem:
	// below it, file writes and creates answer 507; default
	// DefaultMinFreeBytes, -1 = no reserve.
	MinFreeBytes int64
	// MaxUploadBytes limits one files.raw upload (PUT files/raw); 0 = no
	// limit. A Content-Length over it is answered 413 before the body is
	// read; a chunked body that grows past it is cut off with 413.
	MaxUploadBytes int64
	// RunDir is the runtime's state directory; default a fresh temporary
	// directory removed by Close.
	RunDir string
	// BwrapPath and AgentPath are passed to the sandbox runtime.
	BwrapPath, AgentPath string
	// Runtime replaces the bubblewrap runtime (tests); default a
	// sandbox.Manager built from the fields above.
	Runtime Runtime
	// HeaderTimeout bounds the reading of request headers and IdleTimeout
	// closes idle keep-alive connections (Listen); defaults
	// DefaultHeaderTimeout and DefaultIdleTimeout.
	HeaderTimeout, IdleTimeout time.Duration
	// MaxConnections caps open HTTP connections (Listen); default
	// DefaultMaxConnections, at most half the file limit.
	MaxConnections int
	// AllowedHosts are names allowed in the Host header besides IP
	// literals, loopback names and the host of HTTPAddr; "*" allows any.
	AllowedHosts []string
	// BodyTimeout bounds the reading of a JSON request body; default
	// DefaultBodyTimeout, -1 = none.
	BodyTimeout time.Duration
	// TransferIdleTimeout is how long an upload may go without 64 KiB of
	// progress; default DefaultTransferIdleTimeout, -1 = none.
	TransferIdleTimeout time.Duration
	// StreamHeartbeat is the heartbeat interval of run/stream; default
	// DefaultHeartbeat.
	StreamHeartbeat time.Duration
	// PTYPingInterval is how often an attached PTY socket is pinged;
	// default DefaultPTYPingInterval.
	PTYPingInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ProcessOutputBytes is the output each detached process keeps for
	// replay (process.detach); default and minimum 1 MiB.
	ProcessOutputBytes int64
	// ProcessRetainBytes caps the output all detached processes keep
	// together; a start beyond it is 429/2005. Default 256 MiB.
	ProcessRetainBytes int64
	// ProcessRetention is how long an exited detached process stays
	// listed; default 10 minutes.
	ProcessRetention time.Duration
	// WatchQueue bounds the events one files.watch stream holds before it
	// reports an overflow; default DefaultWatchQueue.
	WatchQueue int
}

// Server is the reference server. It is an http.Handler; Close stops every
// sandbox and closes the store.
type Server struct {
	cfg       Config
	log       *slog.Logger
	store     *store.Store
	rt        Runtime
	mux       *http.ServeMux
	features  []string
	templates map[string]string
	ptys      *ptyTable
	procs     *procTable // process.detach

	allowedHosts []string // lower-case names allowed in Host (request_guard.go)
	crossOrigin  *http.CrossOriginProtection
	bodyLimit    int64
	apiKey       []byte
	chown        bool // euid == 0: chown created files to cfg.UID/GID
	nfsBase      string
	nfsKey       []byte // export key: nfs_url paths carry a token (nfsserver.ExportName)
	runDir       string
	rmRunDir     bool
	wsDir        string
	tmpDir       string // temporary files of writes, outside every workspace

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.RWMutex
	workspaces map[string]*workspaceEntry
	sandboxes  map[string]*sandboxEntry
	active     int // sandboxes starting, running or stopping
	closed     bool
	closeOnce  sync.Once
	closeErr   error
}

// New opens the store in cfg.DataDir, reconciles sandboxes left by a
// previous run (they become stopped), loads workspaces and starts the
// sandbox runtime. It fails when the runtime cannot start (for example
// sandbox.ErrBwrapMissing).
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if cfg.UID == 0 {
		cfg.UID = 100000
	}
	if cfg.GID == 0 {
		cfg.GID = 100000
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 2 * time.Second
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
		if cfg.BaseMode {
			cfg.MaxBodyBytes = 2 << 20
		}
	}
	setDefault(&cfg.MaxJSONReadBytes, DefaultMaxJSONReadBytes)
	setDefault(&cfg.MaxNameBytes, DefaultMaxNameBytes)
	setDefault(&cfg.MaxMetadataBytes, DefaultMaxMetadataBytes)
	setDefault(&cfg.MaxEnvBytes, DefaultMaxEnvBytes)
	setDefault(&cfg.MaxArgsBytes, DefaultMaxArgsBytes)
	setDefault(&cfg.MaxRunOutputBytes, DefaultMaxRunOutputBytes)
	setDefault(&cfg.MaxTimeout, DefaultMaxTimeout)
	setDefault(&cfg.MinFreeBytes, DefaultMinFreeBytes)
	setDefault(&cfg.BodyTimeout, DefaultBodyTimeout)
	setDefault(&cfg.TransferIdleTimeout, DefaultTransferIdleTimeout)
	if cfg.StreamHeartbeat == 0 {
		cfg.StreamHeartbeat = DefaultHeartbeat
	}
	if cfg.PTYPingInterval == 0 {
		cfg.PTYPingInterval = DefaultPTYPingInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		bodyLimit:  cfg.MaxBodyBytes,
		chown:      os.Geteuid() == 0,
		workspaces: map[string]*workspaceEntry{},
		sandboxes:  map[string]*sandboxEntry{},
		ptys:       newPTYTable(),
		procs:      newProcTable(cfg),

		allowedHosts: allowedHosts(cfg),
		crossOrigin:  http.NewCrossOriginProtection(),
	}
	if cfg.APIKey != "" {
		s.apiKey = []byte(cfg.APIKey)
	}
	var err error
	if s.templates, err = loadTemplates(cfg.TemplatesFile, cfg.Templates); err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	s.cfg.DataDir = dataDir
	s.wsDir = filepath.Join(dataDir, "workspaces")
	if err := os.MkdirAll(s.wsDir, 0o711); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	// The sandbox uid must traverse the data dir to reach /workspace.
	for _, d := range []string{dataDir, s.wsDir} {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o011 != 0o011 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return nil, fmt.Errorf("server: data dir: %w", err)
			}
		}
	}
	s.tmpDir = filepath.Join(dataDir, "tmp")
	if err := sweepDir(s.tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: temp dir: %w", err)
	}
	if s.store, err = store.Open(filepath.Join(dataDir, "workspace.db")); err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		s.store.Close()
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Runtime != nil {
		s.rt = cfg.Runtime
	} else {
		s.runDir = cfg.RunDir
		if s.runDir == "" {
			// In the data dir, swept at start: a killed server leaves
			// nothing behind in /tmp.
			s.runDir = filepath.Join(dataDir, "run")
			if err := sweepDir(s.runDir, 0o711); err != nil {
				s.store.Close()
				return nil, fmt.Errorf("server: run dir: %w", err)
			}
			s.rmRunDir = true
		}
		rt, err := newBwrapRuntime(cfg, s.runDir)
		if err != nil {
			s.store.Close()
			if s.rmRunDir {
				os.RemoveAll(s.runDir)
			}
			return nil, fmt.Errorf("server: sandbox runtime: %w", err)
		}
		s.rt = rt
	}
	s.logUnenforcedDefaults()
	s.routes()
	return s, nil
}

// load reconciles the store and fills the in-memory maps.
func (s *Server) load() error {
	ctx := context.Background()
	n, err := s.store.Reconcile(ctx, now())
	if err != nil {
		return err
	}
	if n > 0 {
		s.log.Info("sandboxes left live by a previous server are now in state error", "count", n)
	}
	wss, err := s.store.Workspaces(ctx)
	if err != nil {
		return err
	}
	for _, w := range wss {
		e := &workspaceEntry{rec: *w, dir: filepath.Join(s.wsDir, w.ID)}
		if err := s.makeWorkspaceDir(e.dir); err != nil {
			return err
		}
		s.workspaces[w.ID] = e
	}
	sbs, err := s.store.Sandboxes(ctx)
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		if _, ok := s.workspaces[sb.WorkspaceID]; !ok {
			continue
		}
		s.sandboxes[sb.ID] = &sandboxEntry{rec: *sb}
	}
	return nil
}

// Handler returns the HTTP handler (the Server itself).
func (s *Server) Handler() http.Handler { return s }

// Features returns the features advertised by GET /api/v1/health.
func (s *Server) Features() []string { return slices.Clone(s.features) }

// SetNFSBase sets the prefix of nfs_url ("nfs://host:port/"); "" makes
// nfs_url null. Listen calls it before serving.
func (s *Server) SetNFSBase(base string) { s.nfsBase = base }

// WorkspaceDir returns the host directory of workspace id; ok is false for
// unknown workspaces. It is the NFS server's Resolver.
func (s *Server) WorkspaceDir(id string) (dir string, ok bool) {
	s.mu.RLock()
	e := s.workspaces[id]
	s.mu.RUnlock()
	if e == nil {
		return "", false
	}
	return e.dir, true
}

// Close kills every sandbox (at once), waits for them, and closes the
// runtime and the store. Idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		var live []SandboxRuntime
		for _, e := range s.sandboxes {
			e.mu.Lock()
			if e.rt != nil {
				live = append(live, e.rt)
			}
			e.mu.Unlock()
		}
		s.mu.Unlock()
		var wg sync.WaitGroup
		for _, rt := range live {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rt.Stop(0) //nolint:errcheck // best effort at shutdown
			}()
		}
		wg.Wait()
		s.cancel()
		s.wg.Wait()
		errs := []error{s.rt.Close()}
		s.mu.Lock()
		for _, e := range s.workspaces {
			e.closeRoot()
		}
		s.mu.Unlock()
		errs = append(errs, s.store.Close())
		if s.rmRunDir {
			errs = append(errs, os.RemoveAll(s.runDir))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// sweepDir empties dir (what a killed server left there) and recreates it
// with mode perm.
func sweepDir(dir string, perm os.FileMode) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.Mkdir(dir, perm); err != nil {
		return err
	}
	return os.Chmod(dir, perm)
}

// now is the time stamps of records: UTC.
func now() time.Time { return time.Now().UTC() }

// newID returns a lowercase UUIDv4.
func newID() string {
	var b [16]byte
	rand.Read(b[:]) //nolint:errcheck // crypto/rand never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// validObject reports whether raw is absent, null or a JSON object, and
// returns it normalised ({} for absent or null).
func validObject(raw json.RawMessage) (json.RawMessage, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return json.RawMessage("{}"), true
	}
	if t[0] != '{' {
		return nil, false
	}
	return json.RawMessage(t), true
}
