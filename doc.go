// Package workspace is the Go SDK of the Elevo Workspace service: persistent
// workspaces (storage), isolated sandboxes bound to them, commands run in
// sandboxes (to completion or streamed), interactive terminals (PTY) and NFS
// access to workspace files.
//
// Create one Client per server and share it:
//
//	c, err := workspace.NewClientFromEnv() // WORKSPACE_API_URL, WORKSPACE_API_KEY, WORKSPACE_TIMEOUT
//	if err != nil { ... }
//	defer c.Close()
//
// or workspace.NewClient("http://localhost:8080", workspace.WithAPIKey(key)).
//
//	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "demo"})
//	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
//	res, err := c.Process.Run(ctx, sb.ID, "echo", &workspace.RunCommandOptions{Args: []string{"hi"}})
//
// The services are fields of the Client: Workspace, Sandbox, Process, PTY and
// NFS. Every call that does I/O takes a context.Context first; cancelling it
// stops waiting, and the server stops the work where the protocol allows.
// Option and parameter structs may be nil, meaning defaults; the SDK never
// modifies them.
//
// The SDK speaks the base protocol of the upstream server and uses the
// extensions a server lists in its health features (binary file content,
// raw file transfer, real process streaming, stdin, PTY output) when they
// are there. A call that needs a missing extension fails with an error
// matching ErrUnsupported before anything is sent.
//
// # Errors
//
// Errors answered by the server are *Error values with the HTTP status, the
// API error code, the message and details. Test for a particular condition
// with errors.Is and the sentinels: one per error code (ErrSandboxNotFound,
// ErrWorkspaceNotFound, ErrFileNotFound, ErrProcessTimeout,
// ErrPathNotAllowed, ...), plus the broad ErrNotFound (any 404),
// ErrUnauthorized (401 or code 1005) and ErrUnsupported. Use errors.As to
// read the fields:
//
//	sb, err := c.Sandbox.Get(ctx, id)
//	if errors.Is(err, workspace.ErrSandboxNotFound) { ... }
//	var apiErr *workspace.Error
//	if errors.As(err, &apiErr) { log.Print(apiErr.Code, apiErr.Message) }
//
// Plain-text errors of upstream's framework (400, 413, 415, 422, 404, 405)
// keep their HTTP status with Code 0 and the body text as Message.
// ProcessService.Exec returns an *ExitError for a non-zero exit. Transport
// errors and ctx errors are wrapped, so errors.Is(err, context.Canceled)
// works.
//
// Every request goes through one path that sets auth, retries, classifies
// the answer and wraps the error. Reads and deletes (GET, DELETE) are
// retried after connection errors
// and HTTP 429, 502, 503 and 504 with jittered exponential backoff, honouring
// Retry-After, never past the ctx's deadline (see RetryPolicy and
// WithRetry). Calls that create or change something (POST, PUT) are never
// resent.
//
// # Streaming
//
// ProcessService.RunStream returns an iter.Seq2[ProcessEvent, error] to
// range over. At most one of the event and the error is non-nil, iteration
// stops after an error, and breaking out of the loop or cancelling the ctx
// closes the stream (the server then kills the process). A stream that ends
// without its exit event yields an error wrapping ErrStreamInterrupted,
// never a silent success. On a server without the process.stream feature
// RunStream runs the command with Run and yields its whole output and real
// exit code. The sequence runs the command once; ranging over it again
// yields an error. Streams and PTY sessions, once open, are bounded only by
// their ctx, not by WithTimeout.
//
//	for ev, err := range c.Process.RunStream(ctx, sb.ID, "make", nil) {
//		if err != nil { return err }
//		switch ev.Type {
//		case workspace.EventStdout: os.Stdout.Write(ev.Data)
//		case workspace.EventExit: fmt.Println("exit", ev.Code)
//		}
//	}
//
// RunCommandOptions.Stdout and Stderr take io.Writers (os.Stdout works) that
// receive the output as it arrives.
//
// # Concurrency
//
// A Client and its services are safe for concurrent use by many goroutines
// and share one connection pool (up to 64 idle connections per host). The
// server's feature list is fetched once, on first need, and cached. Close
// the Client when done; it is idempotent. A PTYSession from Connect kills
// its shell on Close (unless PTYOptions.KeepOnClose); one from Attach
// detaches.
//
// # Package layout
//
// The root package is the SDK, one file per service:
//
//	client.go     Client, options, NewClientFromEnv, Health, and the one send path
//	retry.go      RetryPolicy: what is retried and how long to wait
//	errors.go     Error, ErrorCode and the sentinels (from internal/wire's code table)
//	types.go      the values the services take and return
//	workspace.go  WorkspaceService: workspaces and their files
//	transfer.go   Upload and Download: large files as streams (files.raw)
//	archive.go    UploadDir, DownloadDir, UploadArchive, DownloadArchive (files.archive)
//	watch.go      Watch: file events under a path (files.watch)
//	sandbox.go    SandboxService
//	ports.go      DialPort, ForwardPort, PreviewURL (ports)
//	process.go    ProcessService: Run, Exec, Shell, Kill
//	process_detach.go  Start, Attach, List and Process: processes that outlive a call
//	cmd.go        Cmd: an os/exec-style command on every server
//	stream.go     RunStream: process events over server-sent events (go-sse)
//	pty.go        PTYService and PTYSession: terminals over WebSocket
//	nfs.go        NFSService: kernel mounts and userspace sessions
//	nfs_fs.go     NFSFileSystem: a workspace as an fs.FS over NFSv3
//	nfs_file.go   NFSFile: one open file of a session
//
// Next to it:
//
//	workspacetest/         the reference server in-process, for tests (builds everywhere)
//	integration/           end-to-end suites and benchmarks against real sandboxes
//	examples/              runnable programs, one per topic
//	cmd/workspace          the command line for people (cobra), built on this package
//	cmd/workspace-server   the reference server's command
//	cmd/workspace-agent    the sandbox agent as its own small static binary
//	internal/wire          the protocol facts both ends share: codes, features, event shapes
//	internal/servecmd      the server's flags and serve loop
//	internal/server        the HTTP API of the reference server
//	internal/sandbox       sandboxes: bubblewrap, the control channel, processes, PTYs
//	internal/sandbox/agent the agent inside each sandbox, and the protocol it speaks (no cgo)
//	internal/store         the server's SQLite store
//	internal/nfsserver     the NFSv3 export of workspaces
//	internal/nfsclient     the userspace NFSv3 client behind NFS.Open (cache, write pipeline)
//	internal/tarfs         tar streams of os.Root trees, and safe extraction
//	internal/tartest       hostile tar archives shared by the extraction tests
//	internal/netsplice     joins two connections (ports), WebSocket as net.Conn
//	internal/conformance   the protocol checks behind workspacetest.Conformance
//	internal/nfsmount      kernel NFS mounts
//	internal/mountinfo     the kernel's mount table (/proc/self/mountinfo)
//	internal/bench         the benchmark command (go run ./internal/bench)
package workspace
