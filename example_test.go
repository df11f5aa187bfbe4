package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// The Quick Start: a workspace, a sandbox bound to it, a command, a file.
func Example() {
	// The reference server, in-process, stands in for the service.
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	c, err := workspace.NewClient(srv.URL) // e.g. "http://localhost:8080", or workspace.NewClientFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "my-workspace"})
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{
		WorkspaceID: ws.ID,
		Template:    "workspace-test:latest",
	})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.Process.Run(ctx, sb.ID, "echo", &workspace.RunCommandOptions{Args: []string{"Hello", "World"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("Output: ", res.Stdout)

	if err := c.Workspace.WriteFile(ctx, ws.ID, "hello.txt", []byte("Hello, World!")); err != nil {
		log.Fatal(err)
	}
	content, err := c.Workspace.ReadFile(ctx, ws.ID, "hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("File content:", string(content))

	if err := c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
		log.Fatal(err)
	}
	if err := c.Workspace.Delete(ctx, ws.ID); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Output: Hello World
	// File content: Hello, World!
}

func ExampleProcessService_Run() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.Process.Run(ctx, sb.ID, "sh", &workspace.RunCommandOptions{
		Args:    []string{"-c", `echo "$GREETING from $(pwd)"; echo oops >&2; exit 3`},
		Env:     map[string]string{"GREETING": "hello"},
		Timeout: 30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("exit %d, stdout %q, stderr %q\n", res.ExitCode, res.Stdout, res.Stderr)
	// Output: exit 3, stdout "hello from /workspace\n", stderr "oops\n"
}

func ExampleProcessService_Exec() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	out, err := c.Process.Exec(ctx, sb.ID, "uname", "-s")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(out)

	_, err = c.Process.Exec(ctx, sb.ID, "false")
	var exitErr *workspace.ExitError
	if errors.As(err, &exitErr) {
		fmt.Println("false exited with", exitErr.ExitCode)
	}
	// Output:
	// Linux
	// false exited with 1
}

func ExampleProcessService_Shell() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	res, err := c.Process.Shell(ctx, sb.ID, `
		for i in 1 2 3; do
			echo "Item $i"
		done`, &workspace.RunCommandOptions{Env: map[string]string{"DEBUG": "true"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	// Output:
	// Item 1
	// Item 2
	// Item 3
}

func ExampleProcessService_RunStream() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	opts := &workspace.RunCommandOptions{Args: []string{"-c", "echo building; sleep 0.1; echo done; exit 2"}}
	for ev, err := range c.Process.RunStream(ctx, sb.ID, "sh", opts) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Type {
		case workspace.EventStart:
			fmt.Println("started")
		case workspace.EventStdout:
			fmt.Print("stdout: ", string(ev.Data))
		case workspace.EventExit:
			fmt.Println("exit code", ev.Code)
		}
	}
	// Output:
	// started
	// stdout: building
	// stdout: done
	// exit code 2
}

func ExampleWorkspaceService_ListFiles() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}

	for _, name := range []string{"src/main.go", "src/util.go", "README.md"} {
		if err := c.Workspace.WriteFile(ctx, ws.ID, name, []byte("// "+name+"\n")); err != nil {
			log.Fatal(err)
		}
	}
	if err := c.Workspace.Mkdir(ctx, ws.ID, "src/internal"); err != nil {
		log.Fatal(err)
	}
	files, err := c.Workspace.ListFiles(ctx, ws.ID, "src")
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		if f.IsDir() {
			fmt.Println(f.Type, f.Path)
		} else {
			fmt.Println(f.Type, f.Path, f.Size)
		}
	}
	// Output:
	// directory src/internal
	// file src/main.go 15
	// file src/util.go 15
}

func ExampleSandboxService_Get() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()

	_, err = c.Sandbox.Get(ctx, "no-such-sandbox")
	switch {
	case errors.Is(err, workspace.ErrSandboxNotFound):
		fmt.Println("sandbox not found")
	case err != nil:
		log.Fatal(err)
	}
	var apiErr *workspace.Error
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, int(apiErr.Code), apiErr.Code)
	}
	// Output:
	// sandbox not found
	// 404 2001 SandboxNotFound
}

func ExampleWorkspaceService_Delete() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	err = c.Workspace.Delete(ctx, ws.ID)
	fmt.Println(errors.Is(err, workspace.ErrWorkspaceHasActiveSandboxes))

	// Remove the sandboxes first, then the workspace.
	if err := c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Workspace.Delete(ctx, ws.ID))
	// Output:
	// true
	// <nil>
}

func ExamplePTYService_Connect() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	pty, err := c.PTY.Connect(ctx, sb.ID, &workspace.PTYOptions{Cols: 120, Rows: 40, Shell: "/bin/sh"})
	if err != nil {
		log.Fatal(err)
	}
	defer pty.Close()

	// The shell answers on the terminal; an exit ends the session.
	if _, err := pty.WriteString("stty size; exit 3\n"); err != nil {
		log.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := pty.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	code, err := pty.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Contains(out.String(), "40 120"), code)
	// Output: true 3
}

func ExampleNFSService_Open() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}

	// A userspace NFSv3 session: no root, no kernel mount.
	fsys, err := c.NFS.Open(ctx, ws.ID)
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()
	if err := fsys.MkdirAll("notes", 0o755); err != nil {
		log.Fatal(err)
	}
	if err := fsys.WriteFile("notes/todo.txt", []byte("ship it\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fmt.Println(path, d.IsDir())
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// The same file through the HTTP file API.
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "notes/todo.txt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output:
	// . true
	// notes true
	// notes/todo.txt false
	// ship it
}

func ExampleWorkspaceService_Upload() {
	// The reference server, in-process, stands in for the service; with a
	// real one: c, err := workspace.NewClientFromEnv().
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}

	// Stream a file of any size; memory stays flat.
	src := strings.NewReader(strings.Repeat("x", 1<<20))
	var last int64
	err = c.Workspace.Upload(ctx, ws.ID, "data/blob.bin", src, &workspace.TransferOptions{
		Progress: func(done, total int64) { last = done },
	})
	if err != nil {
		log.Fatal(err)
	}
	info, err := c.Workspace.GetFileInfo(ctx, ws.ID, "data/blob.bin")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Size, last)
	// Output: 1048576 1048576
}

func ExampleNewClient() {
	url := os.Getenv("WORKSPACE_API_URL")
	if url == "" {
		url = "http://localhost:8080"
	}
	c, err := workspace.NewClient(url,
		workspace.WithAPIKey(os.Getenv("WORKSPACE_API_KEY")),
		workspace.WithTimeout(60*time.Second),
		workspace.WithNFS("192.168.1.100", 2049),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("client ready")
	// Output: client ready
}

func ExampleNewClientFromEnv() {
	// WORKSPACE_API_URL (default http://localhost:8080), WORKSPACE_API_KEY
	// and WORKSPACE_TIMEOUT configure the client; options override them.
	c, err := workspace.NewClientFromEnv(workspace.WithUserAgent("my-tool/1.0"))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("client ready")
	// Output: client ready
}

func ExampleClient_Health() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()

	h, err := c.Health(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Status, h.Has(workspace.FeaturePTY), h.Has(workspace.FeatureFilesRaw))
	// Output: healthy true true
}

func ExampleSandboxService_Create() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()

	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "project"})
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{
		WorkspaceID: ws.ID,
		Name:        "builder",
		Env:         map[string]string{"APP_ENV": "test"},
		Timeout:     time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Sandbox.Delete(ctx, sb.ID, &workspace.DeleteSandboxOptions{Force: true})
	out, err := c.Process.Exec(ctx, sb.ID, "printenv", "APP_ENV")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sb.Name, sb.State, sb.Timeout, strings.TrimSpace(out))
	// Output: builder running 1h0m0s test
}

func ExampleSandboxService_List() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()

	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if _, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID, Name: name}); err != nil {
			log.Fatal(err)
		}
	}
	running, err := c.Sandbox.List(ctx, &workspace.ListSandboxesOptions{State: workspace.StateRunning})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(running), "running")
	// Output: 2 running
}

func ExampleSandboxService_WaitForState() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()

	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}
	// Bound the wait with the ctx; a sandbox that fails fails the wait at once.
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	sb, err = c.Sandbox.WaitForState(wctx, sb.ID, workspace.StateRunning)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sb.State)
	// Output: running
}

func ExampleProcessService_Kill() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	// Start a long command, and kill it by the pid of its start event.
	for ev, err := range c.Process.RunStream(ctx, sb.ID, "sleep", &workspace.RunCommandOptions{Args: []string{"600"}}) {
		if err != nil {
			log.Fatal(err)
		}
		switch ev.Type {
		case workspace.EventStart:
			if err := c.Process.Kill(ctx, sb.ID, ev.PID, workspace.SIGKILL); err != nil {
				log.Fatal(err)
			}
		case workspace.EventExit:
			fmt.Println("exit code", ev.Code)
		}
	}
	// Output: exit code 137
}

func ExamplePTYService_Attach() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}

	// A shell that outlives its first connection.
	first, err := c.PTY.Connect(ctx, sb.ID, &workspace.PTYOptions{Shell: "/bin/sh", KeepOnClose: true})
	if err != nil {
		log.Fatal(err)
	}
	id := first.ID()
	first.Close() // detaches: the shell keeps running

	ptys, err := c.PTY.List(ctx, sb.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ptys) == 1 && ptys[0].ID == id)

	again, err := c.PTY.Attach(ctx, sb.ID, id)
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	if _, err := again.WriteString("exit 7\n"); err != nil {
		log.Fatal(err)
	}
	go io.Copy(io.Discard, again) // consume the terminal's output
	code, err := again.Wait(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("shell exited", code)
	// Output:
	// true
	// shell exited 7
}

func ExampleWorkspaceService_Download() {
	srv, err := workspacetest.Start() // stands in for the service
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()
	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Workspace.WriteFile(ctx, ws.ID, "log.txt", []byte("line 1\nline 2\nline 3\n")); err != nil {
		log.Fatal(err)
	}

	// Read bytes 7 to 12 as a stream; close the reader when done.
	rc, err := c.Workspace.Download(ctx, ws.ID, "log.txt", &workspace.TransferOptions{Offset: 7, Length: 6})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(os.Stdout, rc); err != nil {
		log.Fatal(err)
	}
	// Output: line 2
}
