// Command pty_session mirrors the Python SDK's examples/pty_session.py: it
// opens an interactive shell on a PTY inside a sandbox.
//
// When stdin is a terminal it is a real remote terminal: the local
// terminal goes into raw mode (golang.org/x/term), keystrokes go to the
// shell, its output comes back, and resizing the window resizes the remote
// terminal (SIGWINCH, on Unix). Exit the shell to leave.
//
// Otherwise (piped stdin, as under `go test`) it runs a scripted session
// and prints what the shell answered, including `stty size` before and
// after a resize.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/pty_session
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return withSandbox(ctx, c, func(sandboxID string) error {
			if term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
				return interactive(ctx, c, sandboxID)
			}
			return scripted(ctx, c, sandboxID, os.Stdout)
		})
	})
}

// withSandbox runs fn with a fresh sandbox and removes it afterwards.
func withSandbox(ctx context.Context, c *workspace.Client, fn func(sandboxID string) error) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "pty-example"})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, c.Workspace.Delete(context.WithoutCancel(ctx), ws.ID)) }()
	sbx, err := c.Sandbox.Create(ctx, &workspace.CreateSandboxParams{WorkspaceID: ws.ID})
	if err != nil {
		return err
	}
	defer func() {
		err = errors.Join(err, c.Sandbox.Delete(context.WithoutCancel(ctx), sbx.ID, &workspace.DeleteSandboxOptions{Force: true}))
	}()
	return fn(sbx.ID)
}

// interactive connects the local terminal to a remote shell until the
// shell exits.
func interactive(ctx context.Context, c *workspace.Client, sandboxID string) error {
	cols, rows, err := term.GetSize(int(os.Stdout.Fd()))
	if err != nil {
		cols, rows = 80, 24
	}
	pty, err := c.PTY.Connect(ctx, sandboxID, &workspace.PTYOptions{
		Cols: cols, Rows: rows,
		Env: map[string]string{"TERM": termName()},
	})
	if err != nil {
		return err
	}
	defer pty.Close()

	old, err := term.MakeRaw(int(os.Stdin.Fd()))
	if err != nil {
		return err
	}
	defer term.Restore(int(os.Stdin.Fd()), old) //nolint:errcheck // best effort

	stopResize := watchResize(ctx, pty)
	defer stopResize()

	// Output goes straight to the terminal.
	pty.OnData(func(b []byte) { os.Stdout.Write(b) }) //nolint:errcheck // nothing to do about a broken terminal
	// Keystrokes go to the shell. Reading stdin cannot be interrupted, so
	// this goroutine ends with the program.
	go func() { _, _ = io.Copy(pty, os.Stdin) }()

	code, err := pty.Wait(ctx)
	term.Restore(int(os.Stdin.Fd()), old) //nolint:errcheck // restore before printing
	if err != nil {
		return err
	}
	fmt.Printf("\r\nShell exited with code %d\n", code)
	return nil
}

func termName() string {
	if t := os.Getenv("TERM"); t != "" {
		return t
	}
	return "xterm-256color"
}

// scripted runs a few commands in a remote shell and prints the answers.
func scripted(ctx context.Context, c *workspace.Client, sandboxID string, out io.Writer) error {
	pty, err := c.PTY.Connect(ctx, sandboxID, &workspace.PTYOptions{
		Cols: 120, Rows: 40,
		Shell: "/bin/sh",
		Env:   map[string]string{"TERM": "xterm-256color", "PS1": "$ "},
	})
	if err != nil {
		return err
	}
	defer pty.Close()
	fmt.Fprintf(out, "Connected to PTY %s (120x40)\n", pty.ID())

	// Handle output: collect it, and wake up whoever waits for an answer.
	var mu sync.Mutex
	var buf strings.Builder
	changed := make(chan struct{}, 1)
	pty.OnData(func(data []byte) {
		mu.Lock()
		buf.Write(data)
		mu.Unlock()
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	// Handle close.
	pty.OnClose(func() { fmt.Fprintln(out, "PTY closed") })

	// ask types cmd between two markers and returns what the shell printed
	// between them (the terminal's \r\n turned into \n). The markers keep
	// the answer apart from the terminal's echo of the typed line and from
	// the prompt, whatever order they arrive in.
	const begin, end = "__BEGIN__", "__DONE__"
	ask := func(cmd string) (string, error) {
		mu.Lock()
		buf.Reset()
		mu.Unlock()
		if _, err := pty.WriteString("echo " + begin + "; " + cmd + "; echo " + end + "\n"); err != nil {
			return "", err
		}
		for {
			mu.Lock()
			s := buf.String()
			mu.Unlock()
			// In the echoed line the markers are followed by ";" or
			// nothing; in the output each ends its own line.
			if i := strings.Index(s, begin+"\r\n"); i >= 0 {
				rest := s[i+len(begin)+2:]
				if j := strings.Index(rest, end+"\r\n"); j >= 0 {
					return strings.ReplaceAll(rest[:j], "\r\n", "\n"), nil
				}
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	show := func(cmd string) error {
		ans, err := ask(cmd)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "$ %s\n%s", cmd, ans)
		return nil
	}

	if err := show("pwd"); err != nil {
		return err
	}
	if err := show("stty size"); err != nil {
		return err
	}
	// Resize the PTY: the shell sees the new size.
	if err := pty.Resize(ctx, 100, 50); err != nil {
		return err
	}
	fmt.Fprintln(out, "Resized to 100x50")
	if err := show("stty size"); err != nil {
		return err
	}
	// Leave the shell and collect its exit status.
	if _, err := pty.WriteString("exit 0\n"); err != nil {
		return err
	}
	code, err := pty.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Shell exited with code %d\n", code)
	return nil
}
