package exampleenv

import (
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

// TestEmbeddedServer: without WORKSPACE_API_URL, Connect starts a server
// of its own, and cleanup stops it.
func TestEmbeddedServer(t *testing.T) {
	t.Setenv(EnvAPIURL, "")
	c, cleanup, err := Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !h.Has(workspace.FeatureBinary) {
		t.Errorf("embedded server features %v lack binary", h.Features)
	}
	cleanup()
	cleanup() // idempotent
	if _, err := c.Health(t.Context()); err == nil {
		t.Error("client still answers after cleanup")
	}
}

// TestExternalServer: with WORKSPACE_API_URL (and WORKSPACE_API_KEY),
// Connect uses that server, and cleanup leaves it running.
func TestExternalServer(t *testing.T) {
	srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("k"))
	t.Setenv(EnvAPIURL, srv.URL)
	t.Setenv(workspace.EnvAPIKey, "k")
	c, cleanup, err := Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Workspace.List(t.Context()); err != nil {
		t.Fatalf("the API key did not reach the server: %v", err)
	}
	cleanup()
	if _, err := srv.Client().Health(t.Context()); err != nil {
		t.Fatalf("external server stopped by a client's cleanup: %v", err)
	}
}
