package workspacetest_test

import (
	"os"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// TestConformance runs the conformance suite against the embedded server
// in full mode (with the slow checks), in base mode and with an API key; with WORKSPACE_API_URL
// set it runs against that live server instead (WORKSPACE_API_KEY is its
// key, WORKSPACE_CONFORMANCE_SLOW=1 adds the slow checks).
func TestConformance(t *testing.T) {
	if os.Getenv(workspace.EnvAPIURL) != "" {
		c, err := workspace.NewClientFromEnv()
		if err != nil {
			t.Fatal(err)
		}
		// Closed after Conformance's own cleanup, which needs it.
		t.Cleanup(func() { c.Close() })
		var opts []workspacetest.ConformanceOption
		if os.Getenv(workspace.EnvAPIKey) != "" {
			t.Setenv(workspace.EnvAPIKey, "")
			noKey, err := workspace.NewClientFromEnv()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { noKey.Close() })
			opts = append(opts, workspacetest.ConformanceWithoutKey(noKey))
		}
		workspacetest.Conformance(t, c, opts...)
		return
	}
	t.Run("full", func(t *testing.T) {
		// The slow checks (Part 3 limits) run here, on our own server:
		// skipped everywhere, they would never be tested.
		srv := workspacetest.NewServer(t)
		workspacetest.Conformance(t, srv.Client(), workspacetest.ConformanceSlow())
	})
	t.Run("base", func(t *testing.T) {
		srv := workspacetest.NewServer(t, workspacetest.WithBaseMode())
		workspacetest.Conformance(t, srv.Client())
	})
	t.Run("apikey", func(t *testing.T) {
		srv := workspacetest.NewServer(t, workspacetest.WithAPIKey("conformance-key"))
		noKey, err := workspace.NewClient(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { noKey.Close() })
		workspacetest.Conformance(t, srv.Client(), workspacetest.ConformanceWithoutKey(noKey))
	})
}
