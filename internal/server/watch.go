//go:build !windows

package server

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// DefaultWatchQueue is how many events one files.watch stream holds for a
// slow client before it drops them and reports an overflow.
const DefaultWatchQueue = 4096

// watchGoneCheck is how often a watch checks that its workspace still
// exists (a deleted workspace ends it).
const watchGoneCheck = time.Second

// handleWatch serves GET /workspaces/{id}/files/watch?path=P&recursive=true:
// an SSE stream of the changes under P made by anyone (sandboxes, the file
// API, NFS: all of them change the workspace directory on the host, where
// fsnotify watches). Events wait in a bounded queue; when it is full they
// are dropped and an "overflow" event follows. The stream ends when the
// client goes away, the workspace is deleted or the server closes.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	e, wf, ok := s.workspaceFiles(w, r)
	if !ok {
		return
	}
	p := r.URL.Query().Get("path")
	rel, err := rootRel(p)
	if err == nil {
		_, err = wf.Root.Stat(rel) // confined: a symlink out of the workspace fails
	}
	if err != nil {
		writeFileError(w, err, p)
		return
	}
	recursive := r.URL.Query().Get("recursive") == "true"
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		writeErrorDetails(w, wire.CodeInternal, "Cannot watch", err.Error())
		return
	}
	queue := s.cfg.WatchQueue
	if queue <= 0 {
		queue = DefaultWatchQueue
	}
	realDir, err := filepath.EvalSymlinks(e.dir)
	if err != nil {
		fw.Close()
		writeErrorDetails(w, wire.CodeInternal, "Cannot watch", err.Error())
		return
	}
	wt := &watcher{
		fw: fw, dir: e.dir, realDir: realDir, recursive: recursive,
		out: make(chan wire.FileEvent, queue), ended: make(chan struct{}), dirs: map[string]bool{},
	}
	top := filepath.Join(e.dir, filepath.FromSlash(rel))
	if err := wt.add(top, false); err != nil {
		fw.Close()
		writeFileError(w, err, p)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); wt.run(ctx, top) }()
	defer func() {
		cancel()
		fw.Close()
		wg.Wait()
	}()

	sw := startSSE(w)
	if sw.comment() != nil { // the headers go out now: the watch is in place
		return
	}
	beat := time.NewTicker(s.cfg.StreamHeartbeat)
	defer beat.Stop()
	gone := time.NewTicker(watchGoneCheck)
	defer gone.Stop()
	for {
		select {
		case ev := <-wt.out:
			sw.add(ev.Type, ev)
			if wt.lost.Swap(false) {
				sw.add(wire.FileEventOverflow, wire.FileEvent{Type: wire.FileEventOverflow})
			}
			if len(wt.out) == 0 || sw.buf.Len() >= streamCoalesce {
				if sw.send() != nil {
					return
				}
			}
		case <-wt.ended:
			return
		case <-gone.C:
			if _, ok := s.WorkspaceDir(e.rec.ID); !ok {
				return
			}
			if wt.lost.Swap(false) && sw.event(wire.FileEventOverflow, wire.FileEvent{Type: wire.FileEventOverflow}) != nil {
				return
			}
		case <-beat.C:
			if sw.comment() != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// watcher turns fsnotify events under one workspace into wire events.
type watcher struct {
	fw        *fsnotify.Watcher
	dir       string // the workspace directory
	realDir   string // dir with symlinks resolved
	recursive bool
	out       chan wire.FileEvent
	lost      atomic.Bool // events were dropped since the last overflow event
	ended     chan struct{}

	mu   sync.Mutex
	dirs map[string]bool // watched directories
}

// add watches path and, when recursive, every directory under it; with
// announce it also reports what it finds below path as created (they
// appeared before their directory's watch was in place). Symlinks are not
// followed, and a path that resolves outside the workspace is refused.
func (wt *watcher) add(path string, announce bool) error {
	if err := wt.addOne(path); err != nil {
		return err
	}
	if !wt.recursive {
		return nil
	}
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == path {
			return nil //nolint:nilerr // vanished entries are not an error
		}
		if announce {
			wt.emit(wire.FileEvent{Type: wire.FileEventCreate, Path: wt.rel(p), IsDir: d.IsDir()})
		}
		if d.IsDir() {
			if err := wt.addOne(p); err != nil {
				wt.lost.Store(true) // e.g. out of inotify watches
				return filepath.SkipDir
			}
		}
		return nil
	})
}

// addOne watches one path after checking that it stays in the workspace.
func (wt *watcher) addOne(path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	if real != wt.realDir && !strings.HasPrefix(real, wt.realDir+string(filepath.Separator)) {
		return errEscape
	}
	if err := wt.fw.Add(path); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		wt.mu.Lock()
		wt.dirs[path] = true
		wt.mu.Unlock()
	}
	return nil
}

// rel returns the workspace-relative form of a host path.
func (wt *watcher) rel(p string) string {
	r, err := filepath.Rel(wt.dir, p)
	if err != nil || r == "." {
		return ""
	}
	return filepath.ToSlash(r)
}

// emit queues ev, or drops it and records the loss when the queue is full.
func (wt *watcher) emit(ev wire.FileEvent) {
	select {
	case wt.out <- ev:
	default:
		wt.lost.Store(true)
	}
}

// run reads fsnotify until ctx ends or the watched top is removed.
func (wt *watcher) run(ctx context.Context, top string) {
	defer close(wt.ended)
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-wt.fw.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				wt.lost.Store(true)
			}
		case ev, ok := <-wt.fw.Events:
			if !ok {
				return
			}
			if wt.handle(ev, top) {
				return
			}
		}
	}
}

// handle converts one fsnotify event; it reports true when the watched top
// itself went away.
func (wt *watcher) handle(ev fsnotify.Event, top string) (topGone bool) {
	wt.mu.Lock()
	wasDir := wt.dirs[ev.Name]
	wt.mu.Unlock()
	fe := wire.FileEvent{Path: wt.rel(ev.Name), IsDir: wasDir}
	switch {
	case ev.Has(fsnotify.Create):
		fe.Type = wire.FileEventCreate
		fi, err := os.Lstat(ev.Name)
		fe.IsDir = err == nil && fi.IsDir()
		wt.emit(fe)
		if fe.IsDir && wt.recursive {
			_ = wt.add(ev.Name, true)
		}
		return false
	case ev.Has(fsnotify.Remove), ev.Has(fsnotify.Rename):
		fe.Type = wire.FileEventRemove
		if ev.Has(fsnotify.Rename) {
			fe.Type = wire.FileEventRename
		}
		if wasDir {
			wt.mu.Lock()
			delete(wt.dirs, ev.Name)
			wt.mu.Unlock()
		}
		wt.emit(fe)
		return ev.Name == top
	case ev.Has(fsnotify.Write):
		fe.Type = wire.FileEventWrite
	case ev.Has(fsnotify.Chmod):
		fe.Type = wire.FileEventChmod
	default:
		return false
	}
	wt.emit(fe)
	return false
}
