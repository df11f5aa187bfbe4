//go:build !windows

// Command bench measures the project's speed next to the physical floor of
// the machine it runs on, in one run, and prints a Markdown table:
//
//	go run ./internal/bench            # everything (about a minute)
//	go run ./internal/bench -quick     # smaller sizes, fewer samples
//	go run ./internal/bench -only http,fork,run
//
// Every figure is a measurement function returning its metrics; the table
// rows pick metrics by key. Floors are measured with plain Go and the OS
// (loopback HTTP, fork+exec, bwrap, TCP, PTY, disk) so the project's numbers
// can be read against what this machine can physically do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

// config holds the knobs shared by all measurements.
type config struct {
	quick     bool
	samples   int           // latency samples per figure
	duration  time.Duration // length of each throughput run
	conc      int           // concurrency of the "c=8" figures
	bulk      int64         // bytes for TCP / PTY / stream bulk figures
	transfer  int64         // bytes for disk, upload, download figures
	nfsSize   int64         // bytes for NFS and file API figures
	creates   int           // sandboxes created in parallel
	dataDir   string        // directory on the disk the server stores data on
	bwrap     string        // bwrap binary
	agent     string        // sandbox agent binary ("" = this binary)
	agentNote string        // which agent the project's figures used
	verbose   bool
}

// measurement is one named group of metrics.
type measurement struct {
	name  string
	floor bool
	desc  string
	run   func(ctx context.Context, cfg *config) ([]Metric, error)
}

// row is one line of the output table; each cell lists groups of metrics.
type row struct {
	figure  string
	project []group
	floor   []group
	target  string
}

// group is metrics shown together as "a / b unit (label)".
type group struct {
	label string
	keys  []string
}

func g(label string, keys ...string) []group { return []group{{label, keys}} }

func (r row) and(label string, keys ...string) row {
	r.floor = append(r.floor, group{label, keys})
	return r
}

var rows = []row{
	row{"Run `true`, p50 / p99, c=1", g("", "run.p50", "run.p99"), g("HTTP round trip", "http.rtt.p50", "http.rtt.p99"), "≤ 2 ms / ≤ 5 ms"}.and("fork+exec", "fork.p50", "fork.p99"),
	row{"Run `true`, runs/s, c=8", g("", "run.c8"), g("HTTP round trips", "http.c8"), "≥ 500/s"}.and("fork+exec", "fork.c8"),
	{"sandbox create until it answers, p50", g("", "create.p50"), g("bwrap start of /bin/true", "bwrap.p50"), "≤ 25 ms"},
	{"Run `true` p50, sampled alternately with its floor", g("", "alt.run.p50"), g("fork+exec", "alt.fork.p50"), "≤ 1.5× the floor"},
	{"sandbox create p50, sampled alternately with its floor", g("", "alt.create.p50"), g("bwrap start of /bin/true", "alt.bwrap.p50"), "≤ 2.5× the floor"},
	{"sandbox creates in parallel (-creates), total", g("", "create.parallel"), g("bwrap starts in parallel", "bwrap.parallel"), "100 in ≤ 2 s"},
	{"idle sandbox memory, RSS / PSS", g("", "idle.rss", "idle.pss"), g("bwrap + sleep", "bwrap.idle.rss", "bwrap.idle.pss"), "≤ 10 MiB RSS"},
	{"control plane: get sandbox, calls/s, c=8", g("", "cp.get.c8"), g("HTTP round trips", "http.c8"), "≥ 5000/s"},
	{"control plane: list files, calls/s, c=8", g("", "cp.list.c8"), g("HTTP round trips", "http.c8"), "≥ 5000/s"},
	row{"stream: time to first event, p50 / p99", g("", "stream.first.p50", "stream.first.p99"), g("HTTP round trip", "http.rtt.p50"), "≤ 2.5 ms"}.and("fork+exec", "fork.p50"),
	{"stream: MB/s", g("", "stream.mbps"), g("raw loopback TCP", "tcp.mbps"), "≥ 200 MB/s"},
	{"PTY keystroke echo, p50 / p99", g("", "pty.echo.p50", "pty.echo.p99"), g("raw PTY + cat, no network", "ptyraw.echo.p50", "ptyraw.echo.p99"), "p50 ≤ 0.5 ms"},
	{"PTY bulk output, MB/s", g("", "pty.bulk"), g("raw PTY, no network", "ptyraw.bulk"), ""},
	row{"upload 1 GiB (files.raw), MB/s; peak RSS", g("", "upload.mbps", "upload.rss"), g("disk write + fsync", "disk.mbps"), "≥ 300 MB/s; a few MiB"}.and("raw loopback TCP", "tcp.mbps"),
	{"download 1 GiB (files.raw), MB/s; peak RSS", g("", "download.mbps", "download.rss"), g("raw loopback TCP", "tcp.mbps"), "≥ 800 MB/s; a few MiB"},
	{"NFS read through `NFS.Open`, MB/s", g("", "nfs.read"), g("file API download", "fileapi.read"), "≥ 250 MB/s"},
	{"NFS write through `NFS.Open`, 64 KiB / 1 MiB buffers, MB/s", g("", "nfs.write.64k", "nfs.write"), g("file API upload", "fileapi.write"), "≥ 0.4 × upload"},
	{"NFS 4 KiB random `ReadAt`, cold / warm, ops/s", g("", "nfs.readat.cold", "nfs.readat.warm"), nil, "warm ≥ 100,000/s"},
	{"NFS 1-byte sequential `Read`, MB/s", g("", "nfs.read1"), nil, ""},
}

func main() {
	sandbox.MaybeRunAgent() // this binary is also the sandbox agent
	cfg := &config{}
	flag.BoolVar(&cfg.quick, "quick", false, "fast run: fewer samples, smaller sizes")
	flag.IntVar(&cfg.samples, "n", 0, "latency samples per figure (default 2000, quick 200)")
	flag.DurationVar(&cfg.duration, "d", 0, "duration of each throughput run (default 3s, quick 500ms)")
	flag.IntVar(&cfg.conc, "c", 8, "concurrency of the c=8 figures")
	bulk := flag.Int64("bulk-mib", 0, "MiB for TCP/PTY/stream bulk figures (default 1024, quick 128)")
	transfer := flag.Int64("transfer-mib", 0, "MiB for disk/upload/download figures (default 1024, quick 128)")
	nfsSize := flag.Int64("nfs-mib", 0, "MiB for NFS and file API figures (default 256, quick 32)")
	flag.IntVar(&cfg.creates, "creates", 100, "sandboxes created in parallel")
	flag.StringVar(&cfg.dataDir, "data-dir", "", "directory on the disk the data lives on (default: a temp dir)")
	flag.StringVar(&cfg.bwrap, "bwrap", "/usr/bin/bwrap", "bwrap binary")
	flag.StringVar(&cfg.agent, "agent", "", "sandbox agent binary; \"self\" = this binary (default: cmd/workspace-agent, built with the go command)")
	only := flag.String("only", "", "comma-separated measurements to run (default all; see -list)")
	list := flag.Bool("list", false, "list measurements and exit")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.BoolVar(&cfg.verbose, "v", false, "print every metric as it is measured")
	flag.Parse()

	def := func(v *int64, full, quick int64) {
		if *v == 0 {
			*v = full
			if cfg.quick {
				*v = quick
			}
		}
	}
	n := int64(cfg.samples)
	def(&n, 2000, 200)
	cfg.samples = int(n)
	d := int64(cfg.duration)
	def(&d, int64(3*time.Second), int64(500*time.Millisecond))
	cfg.duration = time.Duration(d)
	def(bulk, 1024, 128)
	def(transfer, 1024, 128)
	def(nfsSize, 256, 32)
	cfg.bulk, cfg.transfer, cfg.nfsSize = *bulk<<20, *transfer<<20, *nfsSize<<20
	if cfg.quick && cfg.creates == 100 {
		cfg.creates = 20
	}

	all := allMeasurements()
	if *list {
		for _, m := range all {
			kind := "project"
			if m.floor {
				kind = "floor"
			}
			fmt.Printf("%-10s %-8s %s\n", m.name, kind, m.desc)
		}
		return
	}
	var sel []measurement
	if *only == "" {
		sel = all
	} else {
		names := strings.Split(*only, ",")
		for _, name := range names {
			i := slices.IndexFunc(all, func(m measurement) bool { return m.name == strings.TrimSpace(name) })
			if i < 0 {
				fmt.Fprintf(os.Stderr, "bench: unknown measurement %q (see -list)\n", name)
				os.Exit(2)
			}
			sel = append(sel, all[i])
		}
	}
	if cfg.dataDir == "" {
		dir, err := os.MkdirTemp("", "bench-data-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		// The sandbox uid must traverse it to reach its workspace.
		if err := os.Chmod(dir, 0o711); err != nil {
			fatal(err)
		}
		cfg.dataDir = dir
	}

	if slices.ContainsFunc(sel, func(m measurement) bool { return !m.floor }) {
		cfg.agent, cfg.agentNote = chooseAgent(cfg.agent, cfg.dataDir)
	}

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	defer closeProject()

	results := map[string]Metric{}
	var failures []string
	start := time.Now()
	for _, m := range sel {
		if ctx.Err() != nil {
			break
		}
		t0 := time.Now()
		ms, err := m.run(ctx, cfg)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", m.name, err))
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", m.name, err)
		}
		for _, x := range ms {
			results[x.Key] = x
			if cfg.verbose {
				fmt.Fprintf(os.Stderr, "  %-22s %s %s\n", x.Key, x, x.Note)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: %-9s done in %v\n", m.name, time.Since(t0).Round(time.Millisecond))
	}
	printTable(os.Stdout, cfg, results, time.Since(start))
	if len(failures) > 0 {
		fmt.Println()
		fmt.Println("Failed measurements:")
		for _, f := range failures {
			fmt.Println("- " + f)
		}
	}
}

func allMeasurements() []measurement {
	return append(floorMeasurements(), projectMeasurements()...)
}

func printTable(w io.Writer, cfg *config, res map[string]Metric, took time.Duration) {
	fmt.Fprintf(w, "| figure | this project | floor | target |\n|---|---|---|---|\n")
	cell := func(groups []group) string {
		var parts []string
		for _, gr := range groups {
			var vals []string
			unit := ""
			var notes []string
			for _, k := range gr.keys {
				m, ok := res[k]
				if !ok {
					continue
				}
				if m.Note != "" {
					notes = append(notes, m.Note)
				}
				if unit != "" && m.Unit != unit {
					vals[len(vals)-1] += " " + unit
				}
				unit = m.Unit
				vals = append(vals, m.Number())
			}
			if len(vals) == 0 {
				continue
			}
			s := strings.Join(vals, " / ") + unitSuffix(unit)
			notes = append([]string{gr.label}, notes...)
			notes = slices.DeleteFunc(notes, func(s string) bool { return s == "" })
			if len(notes) > 0 {
				s += " (" + strings.Join(notes, ", ") + ")"
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "n/a"
		}
		return strings.Join(parts, "; ")
	}
	for _, r := range rows {
		p, f := cell(r.project), cell(r.floor)
		if p == "n/a" && f == "n/a" {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.figure, p, f, r.target)
	}
	host, _ := os.Hostname()
	fmt.Fprintf(w, "\n%d CPUs, %s/%s, %s, host %s; samples %d, throughput runs %v, bulk %d MiB, transfer %d MiB, NFS %d MiB; run took %v.\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), host, cfg.samples, cfg.duration,
		cfg.bulk>>20, cfg.transfer>>20, cfg.nfsSize>>20, took.Round(time.Second))
	if cfg.agentNote != "" {
		fmt.Fprintf(w, "Sandbox %s.\n", cfg.agentNote)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
