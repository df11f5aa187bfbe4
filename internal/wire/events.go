package wire

// Event types of run/stream and process event streams (SSE "data" objects).
const (
	EventStart  = "start"
	EventStdout = "stdout"
	EventStderr = "stderr"
	EventExit   = "exit"
	EventError  = "error"
	EventGap    = "gap"
)

// Event is the JSON object carried by one SSE event of a process stream.
// Which fields are set depends on Type:
//   - start: PID
//   - stdout, stderr: Data (text, or base64 when the stream asked for it)
//   - exit: Code holds the exit status (PROTOCOL.md: {"type":"exit","code"});
//     readers also accept ExitCode ("exit_code") from other servers
//   - error: Code holds a protocol error code (e.g. 4002), and Message
//   - gap: Dropped (bytes of output lost before this point)
type Event struct {
	Type     string `json:"type"`
	PID      int    `json:"pid,omitempty"`
	Data     string `json:"data,omitempty"`
	Code     *int   `json:"code,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Message  string `json:"message,omitempty"`
	Dropped  int64  `json:"dropped,omitempty"`
}

// File event types of the files.watch stream.
const (
	FileEventCreate   = "create"
	FileEventWrite    = "write"
	FileEventRemove   = "remove"
	FileEventRename   = "rename"
	FileEventChmod    = "chmod"
	FileEventOverflow = "overflow"
)

// FileEvent is the JSON object of one files.watch SSE event.
type FileEvent struct {
	Type  string `json:"type"`
	Path  string `json:"path,omitempty"`
	IsDir bool   `json:"is_dir,omitempty"`
}
