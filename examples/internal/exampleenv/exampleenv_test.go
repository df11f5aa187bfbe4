package exampleenv

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/elevo/workspace-sdk-go/internal/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.MaybeRunAgent()
	goleak.VerifyTestMain(m)
}

func TestEmbeddedServer(t *testing.T) {
	t.Setenv(EnvAPIURL, "")
	c, cleanup, err := Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	h, err := c.Health(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !h.HasFeature("binary") {
		t.Errorf("embedded server features %v lack binary", h.Features)
	}

	ep, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Embedded || ep.DataDir == "" || ep.NFSAddr == "" || !strings.HasPrefix(ep.URL, "http://127.0.0.1:") {
		t.Errorf("embedded endpoint = %+v", ep)
	}
	if _, err := os.Stat(ep.DataDir); err != nil {
		t.Fatal(err)
	}
	if err := ep.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := ep.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := os.Stat(ep.DataDir); !os.IsNotExist(err) {
		t.Errorf("data dir %s left behind: %v", ep.DataDir, err)
	}
}

func TestExternalServer(t *testing.T) {
	t.Setenv(EnvAPIURL, "")
	srv, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	t.Setenv(EnvAPIURL, srv.URL)
	t.Setenv(EnvAPIKey, "k")
	ep, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	if ep.Embedded || ep.URL != srv.URL || ep.APIKey != "k" || ep.DataDir != "" {
		t.Errorf("external endpoint = %+v", ep)
	}
	_, cleanup, err := Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cleanup()
	cleanup() // idempotent
	// Cleaning up a connection to an external server leaves it running.
	if _, err := os.Stat(srv.DataDir); err != nil {
		t.Errorf("external server's data dir: %v", err)
	}
	t.Setenv(EnvAPIKey, "")
	c2, cleanup2, err := Connect(t.Context())
	if err != nil {
		t.Fatalf("external server stopped by a client's cleanup: %v", err)
	}
	defer cleanup2()
	if _, err := c2.Workspace.List(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Setenv(EnvAPIURL, "http://127.0.0.1:1")
	_, _, err := Connect(t.Context())
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("Connect to a closed port: err = %v", err)
	}
}
