//go:build !windows

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/term"
)

func floorMeasurements() []measurement {
	return []measurement{
		{"http", true, "loopback HTTP keep-alive round trip p50/p99; round trips/s at c=8", floorHTTP},
		{"fork", true, "fork+exec of /bin/true p50/p99; runs/s at c=8", floorFork},
		{"bwrap", true, "one bwrap start of /bin/true p50; N in parallel; idle bwrap+sleep memory", floorBwrap},
		{"tcp", true, "raw loopback TCP MB/s", floorTCP},
		{"ptyraw", true, "PTY echo through `cat` in raw mode, no network, p50/p99; PTY bulk MB/s", floorPTY},
		{"disk", true, "disk write MB/s, dd-like, fsync at the end, in -data-dir", floorDisk},
	}
}

// throughput runs fn from conc goroutines for d and returns calls per second.
func throughput(ctx context.Context, conc int, d time.Duration, fn func() error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var once sync.Once
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := fn(); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// sample calls fn n times sequentially and returns the durations.
func sample(ctx context.Context, n int, fn func() error) (durations, error) {
	d := make(durations, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return d, err
		}
		t := time.Now()
		if err := fn(); err != nil {
			return d, err
		}
		d = append(d, time.Since(t))
	}
	return d, nil
}

func floorHTTP(ctx context.Context, cfg *config) ([]Metric, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	body := []byte(`{"status":"healthy"}`)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.conc * 2}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := "http://" + ln.Addr().String() + "/api/v1/health"
	get := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	for range 50 { // warm up: connection, goroutines
		if err := get(); err != nil {
			return nil, err
		}
	}
	d, err := sample(ctx, cfg.samples, get)
	if err != nil {
		return nil, err
	}
	out := latency("http.rtt", d)
	rps, err := throughput(ctx, cfg.conc, cfg.duration, get)
	out = append(out, Metric{Key: "http.c8", Value: rps, Unit: "/s"})
	return out, err
}

// forkTrue is the fork+exec floor: one /bin/true, started and waited for.
func forkTrue() error { return exec.Command("/bin/true").Run() }

// bwrapTrue is the bwrap floor: one minimal sandbox running /bin/true.
func bwrapTrue(ctx context.Context, cfg *config) error {
	return exec.CommandContext(ctx, cfg.bwrap, bwrapArgs("/bin/true")...).Run()
}

func floorFork(ctx context.Context, cfg *config) ([]Metric, error) {
	run := forkTrue
	d, err := sample(ctx, min(cfg.samples, 1000), run)
	if err != nil {
		return nil, err
	}
	out := latency("fork", d)
	rps, err := throughput(ctx, cfg.conc, cfg.duration, run)
	out = append(out, Metric{Key: "fork.c8", Value: rps, Unit: "/s"})
	return out, err
}

// bwrapArgs is the minimal sandbox the floor starts: host /usr read-only,
// fresh namespaces, nothing else.
func bwrapArgs(cmd ...string) []string {
	return append([]string{"--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
		"--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
		"--proc", "/proc", "--dev", "/dev", "--unshare-all", "--die-with-parent"}, cmd...)
}

func floorBwrap(ctx context.Context, cfg *config) ([]Metric, error) {
	run := func() error { return bwrapTrue(ctx, cfg) }
	d, err := sample(ctx, min(cfg.samples, 200), run)
	if err != nil {
		return nil, fmt.Errorf("bwrap: %w", err)
	}
	out := latency("bwrap", d)
	// N in parallel.
	t := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, cfg.creates)
	for i := range cfg.creates {
		wg.Go(func() { errs[i] = run() })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	out = append(out, Metric{Key: "bwrap.parallel", Value: time.Since(t).Seconds(), Unit: "s",
		Note: fmt.Sprintf("%d", cfg.creates)})
	// Idle memory of bwrap + sleep.
	cmd := exec.CommandContext(ctx, cfg.bwrap, bwrapArgs("/bin/sleep", "3600")...)
	if err := cmd.Start(); err != nil {
		return out, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(200 * time.Millisecond)
	mem, err := treeMemory(cmd.Process.Pid)
	if err != nil {
		return out, err
	}
	note := fmt.Sprintf("%d procs", mem.procs)
	out = append(out,
		Metric{Key: "bwrap.idle.rss", Value: float64(mem.rss) / (1 << 20), Unit: "MiB", Note: note},
		Metric{Key: "bwrap.idle.pss", Value: float64(mem.pss) / (1 << 20), Unit: "MiB"})
	return out, nil
}

// memory is the summed memory of a process tree, in bytes.
type memory struct {
	rss, pss int64
	procs    int
}

// treeMemory sums Rss and Pss from /proc/<pid>/smaps_rollup over pid and
// all its descendants.
func treeMemory(pid int) (memory, error) {
	var m memory
	pids := []int{pid}
	for len(pids) > 0 {
		p := pids[0]
		pids = pids[1:]
		rss, pss, err := smapsRollup(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && p != pid {
				continue
			}
			return m, err
		}
		m.rss += rss
		m.pss += pss
		m.procs++
		pids = append(pids, children(p)...)
	}
	return m, nil
}

func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

func smapsRollup(pid int) (rss, pss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fs[0], 10, 64)
		switch k {
		case "Rss":
			rss = n << 10
		case "Pss":
			pss = n << 10
		}
	}
	return rss, pss, sc.Err()
}

func floorTCP(ctx context.Context, cfg *config) ([]Metric, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.CopyBuffer(discard{}, c, make([]byte, 256<<10))
		got <- n
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 256<<10)
	t := time.Now()
	var sent int64
	for sent < cfg.bulk && ctx.Err() == nil {
		n, err := c.Write(buf[:min(int64(len(buf)), cfg.bulk-sent)])
		sent += int64(n)
		if err != nil {
			c.Close()
			return nil, err
		}
	}
	c.Close()
	n := <-got
	if n != sent {
		return nil, fmt.Errorf("tcp: sent %d, received %d", sent, n)
	}
	return []Metric{{Key: "tcp.mbps", Value: mbps(n, time.Since(t)), Unit: "MB/s"}}, nil
}

// startOnPTY starts cmd on a new PTY in raw mode and returns the master.
func startOnPTY(cmd *exec.Cmd) (*os.File, error) {
	master, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	if _, err := term.MakeRaw(int(tty.Fd())); err != nil {
		master.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		master.Close()
		return nil, err
	}
	return master, nil
}

func floorPTY(ctx context.Context, cfg *config) ([]Metric, error) {
	cmd := exec.Command("cat")
	master, err := startOnPTY(cmd)
	if err != nil {
		return nil, err
	}
	defer func() { master.Close(); cmd.Process.Kill(); cmd.Wait() }()
	b := make([]byte, 1)
	echo := func() error {
		if _, err := master.Write([]byte{'x'}); err != nil {
			return err
		}
		_, err := io.ReadFull(master, b)
		return err
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
	out := latency("ptyraw.echo", d)

	// Bulk: a process writes cfg.bulk bytes to the PTY, we read the master.
	bulk := exec.Command("head", "-c", strconv.FormatInt(cfg.bulk, 10), "/dev/zero")
	m2, err := startOnPTY(bulk)
	if err != nil {
		return out, err
	}
	defer m2.Close()
	t := time.Now()
	n, err := io.CopyBuffer(discard{}, m2, make([]byte, 64<<10))
	el := time.Since(t)
	bulk.Wait()
	if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the slave side closed
		return out, err
	}
	if n != cfg.bulk {
		return out, fmt.Errorf("pty bulk: read %d of %d bytes", n, cfg.bulk)
	}
	out = append(out, Metric{Key: "ptyraw.bulk", Value: mbps(n, el), Unit: "MB/s"})
	return out, nil
}

func floorDisk(ctx context.Context, cfg *config) ([]Metric, error) {
	f, err := os.CreateTemp(cfg.dataDir, "disk-floor-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	t := time.Now()
	var n int64
	for n < cfg.transfer && ctx.Err() == nil {
		w, err := f.Write(buf[:min(int64(len(buf)), cfg.transfer-n)])
		n += int64(w)
		if err != nil {
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return []Metric{{Key: "disk.mbps", Value: mbps(n, time.Since(t)), Unit: "MB/s"}}, nil
}
