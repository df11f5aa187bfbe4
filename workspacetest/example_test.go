package workspacetest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// Start runs the reference server outside a test, such as in an Example or
// a benchmark; in a test, use NewServer(t), which skips where sandboxes
// cannot run and closes the server with t.Cleanup.
func ExampleStart() {
	srv, err := workspacetest.Start()
	if err != nil {
		log.Fatal(err) // matches workspace.ErrUnsupported off Linux or without bubblewrap
	}
	defer srv.Close()
	c := srv.Client()
	defer c.Close()

	ctx := context.Background()
	ws, err := c.Workspace.Create(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Workspace.WriteFile(ctx, ws.ID, "hello.txt", []byte("hi")); err != nil {
		log.Fatal(err)
	}
	data, err := c.Workspace.ReadFile(ctx, ws.ID, "hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(data))
	// Output: hi
}
