//go:build !windows

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/sandbox"
	"github.com/elevo/workspace-sdk-go/internal/server"
)

func projectMeasurements() []measurement {
	return []measurement{
		{"run", false, "Run `true` through the SDK: p50/p99 at c=1, runs/s at c=8", projRun},
		{"create", false, "sandbox create until it answers a command, p50; -creates in parallel", projCreate},
		{"alternate", false, "Run and create p50 sampled alternately with their floors (fork+exec, bwrap)", projAlternate},
		{"idle", false, "RSS/PSS of an idle sandbox's processes (bwrap + agent)", projIdle},
		{"cp", false, "control plane: get sandbox and list files per second at c=8", projControlPlane},
		{"stream", false, "run/stream: time to first event p50/p99, stdout MB/s", projStream},
		{"pty", false, "PTY over WebSocket: keystroke echo p50/p99 (raw cat), bulk output MB/s", projPTY},
		{"transfer", false, "files.raw upload and download MB/s and peak process RSS", projTransfer},
		{"nfs", false, "NFS read/write MB/s through NFS.Open, beside the file API", projNFS},
	}
}

// project is the reference server running in this process, with a client,
// a workspace and a running sandbox.
type project struct {
	in  *server.Instance
	rt  *recordingRuntime
	c   *workspace.Client
	ws  *workspace.Workspace
	sb  *workspace.Sandbox
	dir string
}

var (
	projMu  sync.Mutex
	proj    *project
	projErr error // a failed start is not retried
)

// recordingRuntime is the bubblewrap runtime, remembering the sandboxes it
// started so that the harness can read their host processes' memory.
type recordingRuntime struct {
	m   *sandbox.Manager
	mu  sync.Mutex
	sbs map[string]*sandbox.Sandbox
}

func (r *recordingRuntime) Start(ctx context.Context, spec sandbox.Spec) (server.SandboxRuntime, error) {
	sb, err := r.m.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.sbs[spec.ID] = sb
	r.mu.Unlock()
	return sb, nil
}

func (r *recordingRuntime) Close() error { return r.m.Close() }

func (r *recordingRuntime) hostPID(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb := r.sbs[id]; sb != nil {
		return sb.HostPID()
	}
	return 0
}

// getProject starts the server on first use.
func getProject(ctx context.Context, cfg *config) (*project, error) {
	projMu.Lock()
	defer projMu.Unlock()
	if proj != nil || projErr != nil {
		return proj, projErr
	}
	p, err := startProject(ctx, cfg)
	proj, projErr = p, err
	return p, err
}

func startProject(ctx context.Context, cfg *config) (*project, error) {
	dir, err := os.MkdirTemp(cfg.dataDir, "server-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o711)
	runDir := filepath.Join(dir, "run")
	if err := os.Mkdir(runDir, 0o711); err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	m, err := sandbox.NewManager(sandbox.Config{BwrapPath: cfg.bwrap, AgentPath: cfg.agent, RunDir: runDir, Logger: logger})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rt := &recordingRuntime{m: m, sbs: map[string]*sandbox.Sandbox{}}
	in, err := server.Listen(server.Config{
		DataDir:  filepath.Join(dir, "data"),
		HTTPAddr: "127.0.0.1:0",
		NFSAddr:  "127.0.0.1:0",
		Runtime:  rt,
		Logger:   logger,
	})
	if err != nil {
		m.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	p := &project{in: in, rt: rt, dir: dir}
	host, port, _ := strings.Cut(in.NFSAddr, ":")
	nport, _ := strconv.Atoi(port)
	if p.c, err = workspace.NewClient(in.URL, workspace.WithNFS(host, nport)); err != nil {
		p.close()
		return nil, err
	}
	if p.ws, err = p.c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "bench"}); err != nil {
		p.close()
		return nil, err
	}
	if p.sb, err = p.c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: p.ws.ID}); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

func (p *project) close() {
	if p.c != nil {
		p.c.Close()
	}
	p.in.Close()
	os.RemoveAll(p.dir)
}

func closeProject() {
	projMu.Lock()
	defer projMu.Unlock()
	if proj != nil {
		proj.close()
		proj = nil
	}
}

func projRun(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	run := func() error { return p.runTrue(ctx) }
	for range 20 {
		if err := run(); err != nil {
			return nil, err
		}
	}
	d, err := sample(ctx, min(cfg.samples, 1000), run)
	if err != nil {
		return nil, err
	}
	out := latency("run", d)
	rps, err := throughput(ctx, cfg.conc, cfg.duration, run)
	return append(out, Metric{Key: "run.c8", Value: rps, Unit: "/s"}), err
}

// runTrue runs `true` in the project's sandbox through the SDK.
func (p *project) runTrue(ctx context.Context) error {
	r, err := p.c.Process.Run(ctx, p.sb.ID, "true", nil)
	if err == nil && r.ExitCode != 0 {
		err = fmt.Errorf("true exited %d", r.ExitCode)
	}
	return err
}

// createSamples is how many sandboxes the create latency samples.
func createSamples(cfg *config) int {
	if cfg.quick {
		return 10
	}
	return 40
}

// timeCreate creates a sandbox and runs `true` in it (until it answers a
// command), returns how long that took, and deletes the sandbox.
func (p *project) timeCreate(ctx context.Context) (time.Duration, error) {
	t := time.Now()
	sb, err := p.c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: p.ws.ID})
	if err != nil {
		return 0, err
	}
	_, err = p.c.Process.Run(ctx, sb.ID, "true", nil)
	el := time.Since(t)
	if derr := p.deleteSandbox(ctx, sb.ID); err == nil {
		err = derr
	}
	return el, err
}

// deleteSandbox force-deletes sandbox id, even when ctx is cancelled.
func (p *project) deleteSandbox(ctx context.Context, id string) error {
	return p.c.Sandbox.Delete(context.WithoutCancel(ctx), id, &workspace.DeleteSandboxOptions{Force: true})
}

func projCreate(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	del := func(id string) error { return p.deleteSandbox(ctx, id) }
	var d durations
	for range createSamples(cfg) {
		el, err := p.timeCreate(ctx)
		if err != nil {
			return nil, err
		}
		d = append(d, el)
	}
	out := latency("create", d)

	// cfg.creates at once.
	ids := make([]string, cfg.creates)
	errs := make([]error, cfg.creates)
	var wg sync.WaitGroup
	t := time.Now()
	for i := range cfg.creates {
		wg.Go(func() {
			sb, err := p.c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: p.ws.ID})
			if err == nil {
				ids[i] = sb.ID
			}
			errs[i] = err
		})
	}
	wg.Wait()
	el := time.Since(t)
	for i := range ids {
		if ids[i] != "" {
			wg.Go(func() { errs[i] = errors.Join(errs[i], del(ids[i])) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	out = append(out, Metric{Key: "create.parallel", Value: el.Seconds(), Unit: "s", Note: strconv.Itoa(cfg.creates)})
	return out, nil
}

func projIdle(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	sb, err := p.c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: p.ws.ID})
	if err != nil {
		return nil, err
	}
	defer p.c.Sandbox.Delete(context.WithoutCancel(ctx), sb.ID, &workspace.DeleteSandboxOptions{Force: true})
	if _, err := p.c.Process.Run(ctx, sb.ID, "true", nil); err != nil {
		return nil, err
	}
	// Idle as the agent counts it: it trims its memory after a second
	// without requests (internal/sandbox/agent, idleTrim).
	time.Sleep(1500 * time.Millisecond)
	pid := p.rt.hostPID(sb.ID)
	if pid == 0 {
		return nil, fmt.Errorf("no host pid for sandbox %s", sb.ID)
	}
	mem, err := treeMemory(pid)
	if err != nil {
		return nil, err
	}
	return []Metric{
		{Key: "idle.rss", Value: float64(mem.rss) / (1 << 20), Unit: "MiB", Note: fmt.Sprintf("%d procs", mem.procs)},
		{Key: "idle.pss", Value: float64(mem.pss) / (1 << 20), Unit: "MiB"},
	}, nil
}

func projControlPlane(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for i := range 10 {
		if err := p.c.Workspace.WriteFile(ctx, p.ws.ID, fmt.Sprintf("cp/f%02d.txt", i), []byte("hello")); err != nil {
			return nil, err
		}
	}
	get := func() error { _, err := p.c.Sandbox.Get(ctx, p.sb.ID); return err }
	list := func() error {
		fs, err := p.c.Workspace.ListFiles(ctx, p.ws.ID, "cp")
		if err == nil && len(fs) != 10 {
			err = fmt.Errorf("listed %d files, want 10", len(fs))
		}
		return err
	}
	var out []Metric
	for _, f := range []struct {
		key string
		fn  func() error
	}{{"cp.get.c8", get}, {"cp.list.c8", list}} {
		for range 50 {
			if err := f.fn(); err != nil {
				return out, err
			}
		}
		rps, err := throughput(ctx, cfg.conc, cfg.duration, f.fn)
		if err != nil {
			return out, err
		}
		out = append(out, Metric{Key: f.key, Value: rps, Unit: "/s"})
	}
	return out, nil
}

func projStream(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	first := func() (time.Duration, error) {
		t := time.Now()
		var el time.Duration
		for ev, err := range p.c.Process.RunStream(ctx, p.sb.ID, "true", nil) {
			if err != nil {
				return 0, err
			}
			if el == 0 {
				el = time.Since(t)
			}
			if ev.Type == workspace.EventExit && ev.Code != 0 {
				return 0, fmt.Errorf("true exited %d", ev.Code)
			}
		}
		return el, nil
	}
	for range 20 {
		if _, err := first(); err != nil {
			return nil, err
		}
	}
	var d durations
	for range min(cfg.samples, 500) {
		el, err := first()
		if err != nil {
			return nil, err
		}
		d = append(d, el)
	}
	out := latency("stream.first", d)

	var n, events int64
	t := time.Now()
	for ev, err := range p.c.Process.RunStream(ctx, p.sb.ID, "head", &workspace.RunCommandOptions{Args: []string{"-c", strconv.FormatInt(cfg.bulk, 10), "/dev/zero"}}) {
		if err != nil {
			return out, err
		}
		if ev.Type == workspace.EventStdout {
			n += int64(len(ev.Data))
			events++
		}
	}
	el := time.Since(t)
	if n != cfg.bulk {
		return out, fmt.Errorf("stream: got %d of %d bytes", n, cfg.bulk)
	}
	return append(out, Metric{Key: "stream.mbps", Value: mbps(n, el), Unit: "MB/s",
		Note: fmt.Sprintf("%d events of %d KiB on average", events, n/max(events, 1)>>10)}), nil
}

// ptyReader collects PTY output delivered by OnData.
type ptyReader struct {
	mu      sync.Mutex
	cond    *sync.Cond
	buf     bytes.Buffer
	n       int64
	discard bool // count only: bulk output must not pile up in memory
}

func newPTYReader(s *workspace.PTYSession) *ptyReader {
	r := &ptyReader{}
	r.cond = sync.NewCond(&r.mu)
	s.OnData(func(b []byte) {
		r.mu.Lock()
		if !r.discard {
			r.buf.Write(b)
		}
		r.n += int64(len(b))
		r.cond.Broadcast()
		r.mu.Unlock()
	})
	return r
}

// waitFor waits until the output holds sub, then drops everything up to it.
func (r *ptyReader) waitFor(ctx context.Context, sub []byte) error {
	stop := context.AfterFunc(ctx, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		if i := bytes.Index(r.buf.Bytes(), sub); i >= 0 {
			r.buf.Next(i + len(sub))
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		r.cond.Wait()
	}
}

func projPTY(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := p.c.PTY.Connect(ctx, p.sb.ID, nil)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	r := newPTYReader(s)
	// The same echo as the floor: cat on a raw terminal echoes each byte.
	if _, err := s.WriteString("stty raw -echo; echo READY; exec cat\n"); err != nil {
		return nil, err
	}
	if err := r.waitFor(ctx, []byte("READY\n")); err != nil {
		return nil, fmt.Errorf("pty: waiting for the shell: %w", err)
	}
	time.Sleep(100 * time.Millisecond) // cat has started
	key := []byte{'x'}
	echo := func() error {
		if _, err := s.Write(key); err != nil {
			return err
		}
		return r.waitFor(ctx, key)
	}
	for range 20 {
		if err := echo(); err != nil {
			return nil, err
		}
	}
	d, err := sample(ctx, cfg.samples, echo)
	if err != nil {
		return nil, err
	}
	out := latency("pty.echo", d)

	// Bulk: a second terminal prints cfg.bulk bytes and exits.
	s2, err := p.c.PTY.Connect(ctx, p.sb.ID, nil)
	if err != nil {
		return out, err
	}
	defer s2.Close()
	r2 := newPTYReader(s2)
	if _, err := s2.WriteString("stty raw -echo; echo GO; head -c " + strconv.FormatInt(cfg.bulk, 10) + " /dev/zero; exit\n"); err != nil {
		return out, err
	}
	if err := r2.waitFor(ctx, []byte("GO\n")); err != nil {
		return out, err
	}
	r2.mu.Lock()
	start := r2.n - int64(r2.buf.Len())
	r2.discard = true
	r2.buf = bytes.Buffer{}
	r2.mu.Unlock()
	t := time.Now()
	if _, err := s2.Wait(ctx); err != nil {
		return out, err
	}
	el := time.Since(t)
	r2.mu.Lock()
	got := r2.n - start
	r2.mu.Unlock()
	if got < cfg.bulk {
		return out, fmt.Errorf("pty bulk: got %d of %d bytes", got, cfg.bulk)
	}
	return append(out, Metric{Key: "pty.bulk", Value: mbps(cfg.bulk, el), Unit: "MB/s"}), nil
}

// patternReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ n, off int64 }

var patternBlock = func() []byte {
	b := make([]byte, 65521)
	for i := range b {
		b[i] = byte(i*131 + i>>7)
	}
	return b
}()

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	n := 0
	for n < len(b) {
		c := copy(b[n:], patternBlock[p.off%int64(len(patternBlock)):])
		n += c
		p.off += int64(c)
	}
	return n, nil
}

// vmHWM resets (reset) or reads the peak RSS of this process.
func vmHWM(reset bool) (int64, error) {
	if reset {
		return 0, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM")
}

func rssNow() int64 {
	b, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// transfer uploads n bytes to name and downloads them back, returning both
// speeds and the peak RSS of this process (client and server) during each.
func transfer(ctx context.Context, p *project, name string, n int64) (up, down float64, upRSS, downRSS int64, err error) {
	if _, err = vmHWM(true); err != nil {
		return
	}
	t := time.Now()
	if err = p.c.Workspace.Upload(ctx, p.ws.ID, name, &patternReader{n: n}, &workspace.TransferOptions{Size: n}); err != nil {
		return
	}
	up = mbps(n, time.Since(t))
	if upRSS, err = vmHWM(false); err != nil {
		return
	}
	vmHWM(true)
	t = time.Now()
	rc, err := p.c.Workspace.Download(ctx, p.ws.ID, name, nil)
	if err != nil {
		return
	}
	got, err := io.CopyBuffer(discard{}, rc, make([]byte, 256<<10))
	rc.Close()
	if err != nil {
		return
	}
	if got != n {
		err = fmt.Errorf("downloaded %d of %d bytes", got, n)
		return
	}
	down = mbps(n, time.Since(t))
	downRSS, err = vmHWM(false)
	return
}

func projTransfer(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := p.c.Workspace.WriteFile(ctx, p.ws.ID, "warm", []byte("x")); err != nil {
		return nil, err
	}
	debug.FreeOSMemory()
	before := rssNow()
	up, down, upRSS, downRSS, err := transfer(ctx, p, "big.bin", cfg.transfer)
	defer p.c.Workspace.DeleteFile(context.WithoutCancel(ctx), p.ws.ID, "big.bin", nil)
	if err != nil {
		return nil, err
	}
	note := fmt.Sprintf("peak RSS of the client+server process; %.0f MiB before", float64(before)/(1<<20))
	return []Metric{
		{Key: "upload.mbps", Value: up, Unit: "MB/s"},
		{Key: "upload.rss", Value: float64(upRSS) / (1 << 20), Unit: "MiB", Note: note},
		{Key: "download.mbps", Value: down, Unit: "MB/s"},
		{Key: "download.rss", Value: float64(downRSS) / (1 << 20), Unit: "MiB", Note: note},
	}, nil
}

func projNFS(ctx context.Context, cfg *config) ([]Metric, error) {
	p, err := getProject(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n := cfg.nfsSize
	up, down, _, _, err := transfer(ctx, p, "nfs-api.bin", n)
	defer p.c.Workspace.DeleteFile(context.WithoutCancel(ctx), p.ws.ID, "nfs-api.bin", nil)
	if err != nil {
		return nil, err
	}
	out := []Metric{
		{Key: "fileapi.write", Value: up, Unit: "MB/s"},
		{Key: "fileapi.read", Value: down, Unit: "MB/s"},
	}
	fsys, err := p.c.NFS.Open(ctx, p.ws.ID)
	if err != nil {
		return out, err
	}
	defer fsys.Close()
	defer p.c.Workspace.DeleteFile(context.WithoutCancel(ctx), p.ws.ID, "nfs.bin", nil)
	buf := make([]byte, 1<<20)
	var w int64
	for _, bs := range []int{64 << 10, 1 << 20} {
		t := time.Now()
		f, err := fsys.Create("nfs.bin")
		if err != nil {
			return out, err
		}
		w, err = io.CopyBuffer(f, &patternReader{n: n}, buf[:bs])
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return out, err
		}
		key := "nfs.write"
		if bs < 1<<20 {
			key = "nfs.write.64k"
		}
		out = append(out, Metric{Key: key, Value: mbps(w, time.Since(t)), Unit: "MB/s"})
	}
	if m, err := nfsSmallReads(fsys, n); err != nil {
		return out, err
	} else {
		out = append(out, m...)
	}
	t := time.Now()
	rf, err := fsys.Open("nfs.bin")
	if err != nil {
		return out, err
	}
	r, err := io.CopyBuffer(discard{}, rf, buf)
	rf.Close()
	if err != nil {
		return out, err
	}
	if r != n {
		return out, fmt.Errorf("nfs read %d of %d bytes", r, n)
	}
	return append(out, Metric{Key: "nfs.read", Value: mbps(r, time.Since(t)), Unit: "MB/s"}), nil
}

// nfsSmallReads measures 4 KiB ReadAts at random offsets of nfs.bin (n
// bytes): cold over the whole file (much larger than the session's cache),
// warm within its first 4 MiB once cached; and 1-byte sequential Reads of
// its first 8 MiB.
func nfsSmallReads(fsys *workspace.NFSFileSystem, n int64) ([]Metric, error) {
	f, err := fsys.Open("nfs.bin")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	buf := make([]byte, 4<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	var out []Metric
	for _, c := range []struct {
		key  string
		span int64
		ops  int
	}{{"nfs.readat.cold", n, 2000}, {"nfs.readat.warm", min(n, 4<<20), 200000}} {
		if c.key == "nfs.readat.warm" {
			for off := int64(0); off+int64(len(buf)) <= c.span; off += int64(len(buf)) {
				if _, err := ra.ReadAt(buf, off); err != nil {
					return out, err
				}
			}
		}
		t := time.Now()
		for range c.ops {
			if _, err := ra.ReadAt(buf, rng.Int64N(c.span-int64(len(buf)))); err != nil {
				return out, err
			}
		}
		out = append(out, Metric{Key: c.key, Value: float64(c.ops) / time.Since(t).Seconds(), Unit: "/s"})
	}
	sf, err := fsys.Open("nfs.bin")
	if err != nil {
		return out, err
	}
	defer sf.Close()
	one := make([]byte, 1)
	size := min(n, 8<<20)
	t := time.Now()
	for i := int64(0); i < size; i++ {
		if _, err := sf.Read(one); err != nil {
			return out, err
		}
	}
	return append(out, Metric{Key: "nfs.read1", Value: mbps(size, time.Since(t)), Unit: "MB/s"}), nil
}
