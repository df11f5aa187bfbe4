package workspace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Workspace is persistent storage that sandboxes bind to. Its files outlive
// every sandbox and are reachable through the Workspace service and NFS.
type Workspace struct {
	// ID is the server-assigned, opaque identifier.
	ID string
	// Name is the optional human-readable name; empty when none was given.
	Name string
	// NFSURL is the export URL, nfs://host:port/<export path>; empty when the
	// server does not export workspaces over NFS.
	NFSURL string
	// Metadata holds the caller-supplied key/value pairs. Without any it is
	// empty: an empty map from the reference server (which sends {}), nil
	// from servers that send null; test it with len.
	Metadata map[string]string
	// CreatedAt is when the workspace was created.
	CreatedAt time.Time
	// UpdatedAt is when the workspace was last changed.
	UpdatedAt time.Time
}

// SandboxState is the lifecycle state of a sandbox.
type SandboxState string

// The states a sandbox moves through. A sandbox that failed to start is in
// StateError with Sandbox.ErrorMessage saying why.
const (
	StateStarting SandboxState = "starting"
	StateRunning  SandboxState = "running"
	StateStopping SandboxState = "stopping"
	StateStopped  SandboxState = "stopped"
	StateError    SandboxState = "error"
)

// Sandbox is an isolated environment bound to a workspace, mounted at
// /workspace inside it.
type Sandbox struct {
	// ID is the server-assigned, opaque identifier.
	ID string
	// WorkspaceID is the workspace the sandbox is bound to.
	WorkspaceID string
	// Name is the optional human-readable name; empty when none was given.
	Name string
	// Template is the template the sandbox was created from ("default" when
	// none was given).
	Template string
	// State is the lifecycle state at the time of the call.
	State SandboxState
	// Env is the environment every process in the sandbox starts with.
	Env map[string]string
	// Metadata holds the caller-supplied key/value pairs; empty (an empty
	// map, or nil from servers that send null) when none were given.
	Metadata map[string]string
	// CreatedAt is when the sandbox was created.
	CreatedAt time.Time
	// UpdatedAt is when the sandbox last changed.
	UpdatedAt time.Time
	// Timeout is the sandbox's lifetime limit (whole seconds on the wire);
	// zero when none is set.
	Timeout time.Duration
	// ErrorMessage says why the sandbox is in StateError; empty otherwise.
	ErrorMessage string
	// Resources holds the effective resource limits the server applied
	// (its defaults and maxima included); nil when the server does not
	// report them.
	Resources *Resources
}

// Resources are the resource limits of a sandbox. In
// CreateSandboxParams a zero field leaves the server's default; in a
// Sandbox they are the effective values.
type Resources struct {
	// CPUs is the number of CPUs, fractions allowed (e.g. 0.5).
	CPUs float64
	// MemoryMB is the memory limit in MiB.
	MemoryMB int
	// PIDs is the maximum number of processes.
	PIDs int
	// DiskMB is the disk space limit in MiB.
	DiskMB int
}

// CommandResult is the outcome of a command that ran to completion.
type CommandResult struct {
	// ExitCode is the command's exit status (126: cannot execute, 127: not
	// found on servers that report it).
	ExitCode int
	// Stdout is everything the command wrote to standard output, byte for
	// byte when the server supports the binary feature.
	Stdout string
	// Stderr is everything the command wrote to standard error.
	Stderr string
	// StdoutTruncated reports that Stdout was cut at the server's output
	// limit (16 MiB per stream on the reference server); the command still
	// ran to its end.
	StdoutTruncated bool
	// StderrTruncated reports the same for Stderr.
	StderrTruncated bool
}

// FileType says what kind of file a FileInfo describes.
type FileType string

// The file types the server reports.
const (
	FileTypeFile      FileType = "file"
	FileTypeDirectory FileType = "directory"
	FileTypeSymlink   FileType = "symlink"
	// FileTypeOther is a FIFO, socket or device.
	FileTypeOther FileType = "other"
)

// FileInfo describes a file in a workspace.
type FileInfo struct {
	// Name is the last element of Path.
	Name string
	// Path is relative to the workspace root.
	Path string
	// Type is the kind of file.
	Type FileType
	// Size is the size in bytes (0 for directories on most servers).
	Size int64
	// ModifiedAt is the modification time; zero when the server does not
	// report it.
	ModifiedAt time.Time
}

// IsDir reports whether the file is a directory.
func (fi *FileInfo) IsDir() bool { return fi.Type == FileTypeDirectory }

// CreateWorkspaceParams are the parameters of WorkspaceService.Create. A nil
// *CreateWorkspaceParams creates an unnamed workspace without metadata.
type CreateWorkspaceParams struct {
	// Name is an optional human-readable name (default: none).
	Name string
	// Metadata is optional caller data stored with the workspace (default: none).
	Metadata map[string]string
}

// CreateSandboxParams are the parameters of SandboxService.Create.
type CreateSandboxParams struct {
	// WorkspaceID is the workspace to bind the sandbox to (required).
	WorkspaceID string
	// Template names the sandbox image (default: the server's "default").
	Template string
	// Name is an optional human-readable name (default: none).
	Name string
	// Env is added to the environment of every process in the sandbox.
	Env map[string]string
	// Metadata is optional caller data stored with the sandbox.
	Metadata map[string]string
	// Timeout limits the sandbox's lifetime; it is sent in whole seconds,
	// rounded up. Zero or negative leaves the server's default.
	Timeout time.Duration
	// Resources asks for resource limits (default nil: the server's
	// defaults). The server clamps them to its maxima; Sandbox.Resources
	// says what applies.
	Resources *Resources
}

// ListSandboxesOptions filter SandboxService.List. A nil
// *ListSandboxesOptions lists every sandbox.
type ListSandboxesOptions struct {
	// State lists only sandboxes in this state (default: every state).
	State SandboxState
}

// DeleteSandboxOptions are the options of SandboxService.Delete.
type DeleteSandboxOptions struct {
	// Force kills the sandbox at once instead of stopping it gracefully
	// (default false). Upstream servers refuse a non-force delete of a
	// running sandbox with ErrInvalidSandboxState.
	Force bool
}

// DeleteFileOptions are the options of WorkspaceService.DeleteFile.
type DeleteFileOptions struct {
	// Recursive deletes a directory with its contents (default false: a
	// non-empty directory is ErrDirectoryNotEmpty).
	Recursive bool
}

// RunCommandOptions are the options of ProcessService.Run, Shell and
// RunStream. A nil *RunCommandOptions runs the command with no arguments in
// the sandbox's default environment and working directory.
type RunCommandOptions struct {
	// Args are the command's arguments (argv[1:]); there is no shell.
	Args []string
	// Env is added on top of the sandbox's environment.
	Env map[string]string
	// Cwd is the working directory (default: /workspace).
	Cwd string
	// Timeout bounds the command's run time; it is sent in milliseconds,
	// rounded up. Zero means the server's default (no limit on the
	// reference server, 30 s upstream). When it elapses the command is
	// killed and the call fails with ErrProcessTimeout. With Timeout set,
	// Run and Shell wait at most Timeout plus the client timeout
	// (WithTimeout); without it, only ctx bounds their wait.
	Timeout time.Duration
	// Stdin, when non-empty, is fed to the command's standard input, which
	// is then closed. It needs a server with the process.stdin feature;
	// otherwise the call fails with ErrUnsupported before anything is sent.
	Stdin []byte
	// Stdout, when non-nil, receives the command's standard output: Run
	// writes it once the command has finished, RunStream writes each chunk
	// as it arrives. The output is still returned as well.
	Stdout io.Writer
	// Stderr, when non-nil, receives the command's standard error, like
	// Stdout.
	Stderr io.Writer
}

// EventType is the kind of a ProcessEvent.
type EventType string

// The event types of a process stream.
const (
	// EventStart carries the PID of the started process (servers with the
	// process.stream feature only).
	EventStart EventType = "start"
	// EventStdout carries a chunk of standard output in Data.
	EventStdout EventType = "stdout"
	// EventStderr carries a chunk of standard error in Data.
	EventStderr EventType = "stderr"
	// EventExit carries the exit code in Code; it is the last event.
	EventExit EventType = "exit"
	// EventError carries the server's error Message (and error code in
	// Code); RunStream yields it and then an error.
	EventError EventType = "error"
	// EventGap says output was lost before the next event (Process.Events
	// resumed after the server's ring dropped it); Dropped counts the bytes.
	EventGap EventType = "gap"
)

// ProcessEvent is one event of ProcessService.RunStream.
type ProcessEvent struct {
	// Type is the kind of event.
	Type EventType
	// Data is the output chunk of EventStdout and EventStderr.
	Data []byte
	// PID is the process id inside the sandbox (EventStart).
	PID int
	// Code depends on Type: for EventExit it is the process's exit status
	// (0 to 255; 128+N when killed by signal N); for EventError it is the
	// protocol error code (an ErrorCode such as 4002, CodeProcessTimeout),
	// also found in the *Error RunStream yields next; for every other type
	// it is 0.
	Code int
	// Message is the error text (EventError).
	Message string
	// Dropped is the number of output bytes lost (EventGap).
	Dropped int64
}

// Signal is a POSIX signal number for ProcessService.Kill.
type Signal int

// Signals accepted by ProcessService.Kill (Linux numbering).
const (
	SIGHUP  Signal = 1
	SIGINT  Signal = 2
	SIGQUIT Signal = 3
	SIGKILL Signal = 9
	SIGUSR1 Signal = 10
	SIGUSR2 Signal = 12
	SIGTERM Signal = 15
)

// String returns the signal's name, such as "SIGTERM".
func (s Signal) String() string {
	switch s {
	case SIGHUP:
		return "SIGHUP"
	case SIGINT:
		return "SIGINT"
	case SIGQUIT:
		return "SIGQUIT"
	case SIGKILL:
		return "SIGKILL"
	case SIGUSR1:
		return "SIGUSR1"
	case SIGUSR2:
		return "SIGUSR2"
	case SIGTERM:
		return "SIGTERM"
	}
	return fmt.Sprintf("Signal(%d)", int(s))
}

// PTYOptions are the options of PTYService.Connect and Create. A nil
// *PTYOptions opens an 80x24 terminal running the server's default shell.
type PTYOptions struct {
	// Cols is the terminal width (default 80).
	Cols int
	// Rows is the terminal height (default 24).
	Rows int
	// Shell is the program to run (default: the server's, /bin/bash or
	// /bin/sh).
	Shell string
	// Env is added on top of the sandbox's environment.
	Env map[string]string
	// KeepOnClose makes Close of the session from Connect detach and leave
	// the shell running, to be reattached with PTYService.Attach (default
	// false: Close kills the shell, so a closed handle leaves nothing
	// behind). Create ignores it.
	KeepOnClose bool
}

// HealthInfo is the answer of Client.Health.
type HealthInfo struct {
	// Status is "healthy" when the server is up.
	Status string
	// Version is the server's version.
	Version string
	// Features lists the protocol extensions the server supports, such as
	// "binary", "files.raw", "process.stream", "process.stdin", "pty" and
	// "auth"; empty for upstream servers.
	Features []string
}

// Has reports whether the server advertised feature, one of the Feature
// constants such as FeaturePTY.
func (h *HealthInfo) Has(feature string) bool { return h.HasFeature(feature) }

// HasFeature reports whether the server advertised the named feature; it is
// the same as Has.
func (h *HealthInfo) HasFeature(name string) bool {
	for _, f := range h.Features {
		if f == name {
			return true
		}
	}
	return false
}

// ExitError is returned by ProcessService.Exec when the command exits with
// a non-zero status.
type ExitError struct {
	// ExitCode is the command's non-zero exit status.
	ExitCode int
	// Stdout is the command's standard output.
	Stdout string
	// Stderr is the command's standard error.
	Stderr string
}

// Error returns "workspace: exit status N" followed by the start of stderr.
func (e *ExitError) Error() string {
	msg := fmt.Sprintf("workspace: exit status %d", e.ExitCode)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		msg += ": " + s
	}
	return msg
}

// ---- wire forms ----

// wireTime decodes RFC 3339 timestamps with 0 to 9 fractional digits and a
// "Z" or numeric offset; null, "" and absent leave the zero time. A
// timestamp without an offset is taken as UTC.
type wireTime struct{ time.Time }

func (t *wireTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b[1:n-1], '\\') < 0 {
		s = string(b[1 : n-1]) // the usual case: no escapes, no second JSON pass
	} else if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	tm, err := parseTime(s)
	if err != nil {
		return err
	}
	t.Time = tm
	return nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return tm, nil
	}
	s2 := strings.Replace(s, " ", "T", 1)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z0700"} {
		if tm, err := time.Parse(layout, s2); err == nil {
			return tm, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp: cannot parse %q", s)
}

type wireWorkspace struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	NFSURL    string            `json:"nfs_url"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt wireTime          `json:"created_at"`
	UpdatedAt wireTime          `json:"updated_at"`
}

func (w *wireWorkspace) toWorkspace() *Workspace {
	return &Workspace{
		ID:        w.ID,
		Name:      w.Name,
		NFSURL:    w.NFSURL,
		Metadata:  w.Metadata,
		CreatedAt: w.CreatedAt.Time,
		UpdatedAt: w.UpdatedAt.Time,
	}
}

type wireSandbox struct {
	ID           string            `json:"id"`
	WorkspaceID  string            `json:"workspace_id"`
	Name         string            `json:"name"`
	Template     string            `json:"template"`
	State        SandboxState      `json:"state"`
	Env          map[string]string `json:"env"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    wireTime          `json:"created_at"`
	UpdatedAt    wireTime          `json:"updated_at"`
	Timeout      float64           `json:"timeout"`
	ErrorMessage string            `json:"error_message"`
	Resources    *wireResources    `json:"resources"`
}

// wireResources is the "resources" object of create params and sandboxes.
type wireResources struct {
	CPUs     float64 `json:"cpus,omitempty"`
	MemoryMB int     `json:"memory_mb,omitempty"`
	PIDs     int     `json:"pids,omitempty"`
	DiskMB   int     `json:"disk_mb,omitempty"`
}

func (r *wireResources) toResources() *Resources {
	if r == nil {
		return nil
	}
	return &Resources{CPUs: r.CPUs, MemoryMB: r.MemoryMB, PIDs: r.PIDs, DiskMB: r.DiskMB}
}

func resourcesToWire(r *Resources) *wireResources {
	if r == nil {
		return nil
	}
	return &wireResources{CPUs: r.CPUs, MemoryMB: r.MemoryMB, PIDs: r.PIDs, DiskMB: r.DiskMB}
}

func (w *wireSandbox) toSandbox() *Sandbox {
	return &Sandbox{
		ID:           w.ID,
		WorkspaceID:  w.WorkspaceID,
		Name:         w.Name,
		Template:     w.Template,
		State:        w.State,
		Env:          w.Env,
		Metadata:     w.Metadata,
		CreatedAt:    w.CreatedAt.Time,
		UpdatedAt:    w.UpdatedAt.Time,
		Timeout:      time.Duration(w.Timeout * float64(time.Second)),
		ErrorMessage: w.ErrorMessage,
		Resources:    w.Resources.toResources(),
	}
}

type wireFileInfo struct {
	Name       string   `json:"name"`
	Path       string   `json:"path"`
	Type       FileType `json:"type"`
	Size       int64    `json:"size"`
	ModifiedAt wireTime `json:"modified_at"`
}

func (w *wireFileInfo) toFileInfo() *FileInfo {
	return &FileInfo{Name: w.Name, Path: w.Path, Type: w.Type, Size: w.Size, ModifiedAt: w.ModifiedAt.Time}
}

// ceilUnit converts a positive duration to a whole number of units, rounding
// up so that a positive duration never becomes 0; 0 for d <= 0.
func ceilUnit(d, unit time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	n := int64(d / unit)
	if d%unit != 0 {
		n++
	}
	return n
}
