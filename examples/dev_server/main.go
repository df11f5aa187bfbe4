// Command dev_server starts a web server inside a sandbox as a detached
// process, opens it from here in two ways, through a local port forwarded
// into the sandbox (like kubectl port-forward) and through the server's
// preview URL, then attaches to the process by its pid, follows its log
// until both requests show up, and stops it.
//
// It talks to the server at WORKSPACE_API_URL (with WORKSPACE_API_KEY) when
// that is set, and otherwise starts the embedded reference server:
//
//	go run ./examples/dev_server
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Main(func(ctx context.Context, c *workspace.Client) error {
		return run(ctx, c, os.Stdout, os.Stderr)
	})
}

// port is where the dev server listens inside the sandbox.
const port = 8000

func run(ctx context.Context, c *workspace.Client, stdout, stderr io.Writer) (err error) {
	ws, err := c.Workspace.Create(ctx, &workspace.CreateWorkspaceParams{Name: "dev-server-example"})
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

	// The workspace is mounted at /workspace, the server's directory.
	if err := c.Workspace.WriteFile(ctx, ws.ID, "index.html", []byte("<h1>Hello from the sandbox</h1>\n")); err != nil {
		return err
	}

	// Start returns once the process runs; it is tied to no connection.
	proc, err := c.Process.Start(ctx, sbx.ID, "python3", &workspace.StartOptions{
		Args: []string{"-u", "-m", "http.server", fmt.Sprint(port), "--bind", "127.0.0.1"},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Started python3 -m http.server (pid %d)\n", proc.PID)

	// A local port that leads to port 8000 inside the sandbox.
	fwd, err := c.Sandbox.ForwardPort(ctx, sbx.ID, port, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer fwd.Close()
	web := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

	// The server takes a moment to listen: poll until it answers.
	page, err := getUntil(ctx, web, "http://"+fwd.Addr().String()+"/", 20*time.Second)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Through the forwarded port: %s", page)

	// The preview URL is for a browser, or any HTTP client; with auth on
	// it carries a token that opens this sandbox's port only.
	preview, err := c.Sandbox.PreviewURL(ctx, sbx.ID, port)
	if err != nil {
		return err
	}
	if page, err = get(ctx, web, preview); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Through the preview URL: %s", page)

	// Come back to the process by its pid, as another program would, and
	// follow its log (replayed from its start, then live).
	attached, err := c.Process.Attach(ctx, sbx.ID, proc.PID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Attached to pid %d; its log:\n", attached.PID)
	var log strings.Builder
	for event, err := range attached.Events(ctx) {
		if err != nil {
			return err
		}
		switch event.Type {
		case workspace.EventStdout, workspace.EventStderr: // http.server logs to stderr
			fmt.Fprint(stdout, string(event.Data))
			log.Write(event.Data)
			if strings.Count(log.String(), `"GET / `) == 2 {
				if err := attached.Kill(ctx, workspace.SIGTERM); err != nil {
					return err
				}
			}
		case workspace.EventExit:
			fmt.Fprintf(stdout, "Exited with code: %d\n", event.Code)
		}
	}
	return nil
}

// getUntil GETs url until it answers 200 OK, for at most timeout.
func getUntil(ctx context.Context, web *http.Client, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		body, err := get(ctx, web, url)
		if err == nil {
			return body, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("the dev server never answered: %w", err)
		case <-tick.C:
		}
	}
}

// get returns the body of url, failing unless the status is 200 OK.
func get(ctx context.Context, web *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := web.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}
