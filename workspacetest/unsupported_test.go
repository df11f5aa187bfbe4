package workspacetest_test

import (
	"errors"
	"testing"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/workspacetest"
)

// TestUnsupportedPlatform runs where sandboxes cannot: without bubblewrap
// on PATH (on Linux), or on any other OS. Start fails with an error
// matching workspace.ErrUnsupported and NewServer skips the test.
func TestUnsupportedPlatform(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no bwrap
	t.Setenv("CI", "")
	srv, err := workspacetest.Start()
	if err == nil {
		srv.Close()
		t.Fatal("Start succeeded without bubblewrap")
	}
	if !errors.Is(err, workspace.ErrUnsupported) {
		t.Fatalf("Start error %v does not match ErrUnsupported", err)
	}
	var skipped bool
	t.Run("NewServer", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		workspacetest.NewServer(t)
		t.Error("NewServer returned without bubblewrap")
	})
	if !skipped {
		t.Fatal("NewServer did not skip")
	}
}
