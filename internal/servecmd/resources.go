//go:build !windows

package servecmd

import (
	"flag"
	"os"
	"runtime"
	"strconv"

	"github.com/elevo/workspace-sdk-go/internal/server"
)

func envFloat(name string, def float64) float64 {
	if f, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return f
	}
	return def
}

// Default sandbox resources: enough for builds and test runs, bounded so
// that one sandbox cannot take the host.
const (
	defaultMemoryMB = 2048
	defaultPids     = 1024
	defaultCPUs     = 1
	maxPids         = 32768
)

// resourceFlags declares the sandbox resource defaults and maxima on fs
// and returns them, filled in by fs.Parse.
func resourceFlags(fs *flag.FlagSet) *server.ResourceLimits {
	r := &server.ResourceLimits{}
	fs.IntVar(&r.DefaultMemoryMB, "default-memory-mb", envInt("WORKSPACE_DEFAULT_MEMORY_MB", defaultMemoryMB), "memory of a sandbox (tmpfs included) in MiB unless create asks; 0 = no limit (WORKSPACE_DEFAULT_MEMORY_MB)")
	fs.IntVar(&r.MaxMemoryMB, "max-memory-mb", envInt("WORKSPACE_MAX_MEMORY_MB", 16384), "largest memory_mb a create may ask, 429 above; 0 = any (WORKSPACE_MAX_MEMORY_MB)")
	fs.IntVar(&r.DefaultPids, "default-pids", envInt("WORKSPACE_DEFAULT_PIDS", defaultPids), "processes and threads of a sandbox unless create asks; 0 = no limit (WORKSPACE_DEFAULT_PIDS)")
	fs.IntVar(&r.MaxPids, "max-pids", envInt("WORKSPACE_MAX_PIDS", maxPids), "largest pids a create may ask, 429 above; 0 = any (WORKSPACE_MAX_PIDS)")
	fs.Float64Var(&r.DefaultCPUs, "default-cpus", envFloat("WORKSPACE_DEFAULT_CPUS", defaultCPUs), "CPU cores of a sandbox unless create asks; 0 = no limit (WORKSPACE_DEFAULT_CPUS)")
	fs.Float64Var(&r.MaxCPUs, "max-cpus", envFloat("WORKSPACE_MAX_CPUS", float64(runtime.NumCPU())), "largest cpus a create may ask, 429 above; 0 = any (WORKSPACE_MAX_CPUS)")
	return r
}
