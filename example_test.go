package workspace_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// startExampleServer starts the in-process reference server that stands in
// for a real Workspace service (e.g. http://localhost:8080) in the examples.
func startExampleServer() *workspacetest.Server {
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// exampleClient starts an example server and returns a client for it;
// done closes both.
func exampleClient() (c *workspace.Client, done func()) {
	srv := startExampleServer()
	c = srv.Client()
	return c, func() {
		c.Close()
		srv.Close()
	}
}

// exampleSandbox creates a workspace and a sandbox bound to it.
func exampleSandbox(ctx context.Context, c *workspace.Client) (*workspace.Workspace, *workspace.Sandbox) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "example"})
	if err != nil {
		log.Fatal(err)
	}
	sb, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		log.Fatal(err)
	}
	return ws, sb
}

// The Quick Start: a workspace, a sandbox bound to it, a command, a file.
func Example() {
	srv := startExampleServer()
	defer srv.Close()
	ctx := context.Background()

	c, err := workspace.NewClient(srv.URL) // e.g. "http://localhost:8080"
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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, sb := exampleSandbox(ctx, c)

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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, sb := exampleSandbox(ctx, c)

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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, sb := exampleSandbox(ctx, c)

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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, sb := exampleSandbox(ctx, c)

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
	c, done := exampleClient()
	defer done()
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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()

	_, err := c.Sandbox.Get(ctx, "no-such-sandbox")
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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	ws, sb := exampleSandbox(ctx, c)

	err := c.Workspace.Delete(ctx, ws.ID)
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
	c, done := exampleClient()
	defer done()
	ctx := context.Background()
	_, sb := exampleSandbox(ctx, c)

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
	c, done := exampleClient()
	defer done()
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
	c, done := exampleClient()
	defer done()
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
