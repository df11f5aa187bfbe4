//go:build !windows

package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/nfsserver"
)

// Instance is a running server: the Server, its HTTP listener and its NFS
// listener (when Config.NFSAddr is set).
type Instance struct {
	// Server is the API server.
	Server *Server
	// URL is the base URL of the HTTP API, e.g. http://127.0.0.1:8080.
	URL string
	// HTTPAddr is the address the HTTP listener is bound to.
	HTTPAddr string
	// NFSAddr is the address the NFS listener is bound to ("" when off).
	NFSAddr string

	http      *http.Server
	nfs       *nfsserver.Server
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Listen builds a Server from cfg and serves it on cfg.HTTPAddr (default
// 127.0.0.1:8080) and, when cfg.NFSAddr is set, NFS on that address. It is
// the shared startup of cmd/workspace-server and workspacetest. Close the
// Instance to stop everything.
func Listen(cfg Config) (*Instance, error) {
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	hl, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("server: http listen: %w", err)
	}
	var nl net.Listener
	if cfg.NFSAddr != "" {
		if nl, err = net.Listen("tcp", cfg.NFSAddr); err != nil {
			hl.Close()
			return nil, fmt.Errorf("server: nfs listen: %w", err)
		}
	}
	s, err := New(cfg)
	if err != nil {
		hl.Close()
		if nl != nil {
			nl.Close()
		}
		return nil, err
	}
	in := &Instance{Server: s, HTTPAddr: hl.Addr().String(), URL: "http://" + hl.Addr().String()}
	if nl != nil {
		in.NFSAddr = nl.Addr().String()
		host := cfg.NFSHost
		_, port, _ := net.SplitHostPort(in.NFSAddr)
		if host == "" {
			h, _, _ := net.SplitHostPort(in.NFSAddr)
			if ip := net.ParseIP(h); ip == nil || ip.IsUnspecified() {
				h = "127.0.0.1"
			}
			host = h
		}
		s.SetNFSBase("nfs://" + net.JoinHostPort(host, port) + "/")
		uid, gid := -1, -1
		if s.chown {
			uid, gid = s.cfg.UID, s.cfg.GID
		}
		if cfg.APIKey != "" { // NFS must not bypass the key: exports carry a token
			if s.nfsKey, err = nfsserver.LoadOrCreateExportKey(filepath.Join(cfg.DataDir, "nfs-export.key")); err != nil {
				hl.Close()
				nl.Close()
				s.Close()
				return nil, err
			}
		}
		in.nfs = nfsserver.New(nfsserver.Config{Resolve: s.WorkspaceDir, UID: uid, GID: gid, OwnerOf: s.workspaceOwner, Logger: cfg.Logger, ExportKey: s.nfsKey})
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			if err := in.nfs.Serve(nl); err != nil && !errors.Is(err, net.ErrClosed) {
				cfg.Logger.Warn("nfs server stopped", "err", err)
			}
			nl.Close()
		}()
	}
	limited := newConnLimiter(hl, maxConnections(cfg.MaxConnections), cfg.Logger)
	in.http = &http.Server{
		Handler: s,
		// Header and idle deadlines for every connection; body deadlines
		// are per route (request_guard.go), and there is no total read or
		// write timeout, which would cut long uploads, downloads, runs,
		// streams and PTYs.
		ReadHeaderTimeout: orDefault(cfg.HeaderTimeout, DefaultHeaderTimeout),
		IdleTimeout:       orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		ConnState:         limited.connState,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
	}
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		if err := in.http.Serve(limited); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Logger.Error("http server stopped", "err", err)
		}
	}()
	cfg.Logger.Info("workspace server listening", "url", in.URL, "nfs", in.NFSAddr, "base_mode", cfg.BaseMode, "features", s.Features())
	return in, nil
}

// Close stops accepting requests, kills every sandbox (which ends
// requests still running in them), closes open connections after a short
// drain and closes the NFS server and the store. Idempotent.
func (in *Instance) Close() error {
	in.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- in.http.Shutdown(ctx) }()
		// Kill sandboxes so that long runs and streams end now.
		errs := []error{in.Server.Close()}
		if err := <-done; err != nil {
			in.http.Close()
		}
		if in.nfs != nil {
			errs = append(errs, in.nfs.Close())
		}
		in.wg.Wait()
		in.closeErr = errors.Join(errs...)
	})
	return in.closeErr
}
