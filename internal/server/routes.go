//go:build !windows

package server

import (
	"net/http"
	"slices"

	"github.com/elevo/workspace-sdk-go/internal/wire"
)

// apiPrefix is the path prefix of every route.
const apiPrefix = "/api/v1"

// routes builds the route table (every route the server answers is listed
// here) and computes the advertised features from featureTable.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	handle := func(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }
	const p = apiPrefix

	handle("GET "+p+"/health", s.handleHealth)

	handle("POST "+p+"/workspaces", s.handleCreateWorkspace)
	handle("GET "+p+"/workspaces", s.handleListWorkspaces)
	handle("GET "+p+"/workspaces/{id}", s.handleGetWorkspace)
	handle("DELETE "+p+"/workspaces/{id}", s.handleDeleteWorkspace)

	handle("GET "+p+"/workspaces/{id}/files", s.handleReadFile)
	handle("PUT "+p+"/workspaces/{id}/files", s.handleWriteFile)
	handle("DELETE "+p+"/workspaces/{id}/files", s.handleDeleteFile)
	handle("GET "+p+"/workspaces/{id}/files/list", s.handleListFiles)
	handle("GET "+p+"/workspaces/{id}/files/info", s.handleFileInfo)
	handle("POST "+p+"/workspaces/{id}/files/mkdir", s.handleMkdir)
	handle("POST "+p+"/workspaces/{id}/files/move", s.handleMove)
	handle("POST "+p+"/workspaces/{id}/files/copy", s.handleCopy)
	if !s.cfg.BaseMode { // upstream has no raw file routes
		handle("GET "+p+"/workspaces/{id}/files/raw", s.handleRawRead)
		handle("PUT "+p+"/workspaces/{id}/files/raw", s.handleRawWrite)
		handle("GET "+p+"/workspaces/{id}/files/archive", s.handleArchiveGet)
		handle("PUT "+p+"/workspaces/{id}/files/archive", s.handleArchivePut)
	}
	if !s.cfg.BaseMode { // files.watch
		handle("GET "+p+"/workspaces/{id}/files/watch", s.handleWatch)
	}

	handle("POST "+p+"/sandboxes", s.handleCreateSandbox)
	handle("GET "+p+"/sandboxes", s.handleListSandboxes)
	handle("GET "+p+"/sandboxes/{id}", s.handleGetSandbox)
	handle("DELETE "+p+"/sandboxes/{id}", s.handleDeleteSandbox)

	handle("POST "+p+"/sandboxes/{id}/process/run", s.handleRun)
	handle("GET "+p+"/sandboxes/{id}/process/run/stream", s.handleRunStream)
	handle("POST "+p+"/sandboxes/{id}/process/{pid}/kill", s.handleKill)
	if !s.cfg.BaseMode { // process.detach
		handle("POST "+p+"/sandboxes/{id}/processes", s.handleStartProcess)
		handle("GET "+p+"/sandboxes/{id}/processes", s.handleListProcesses)
		handle("GET "+p+"/sandboxes/{id}/processes/{pid}", s.handleGetProcess)
		handle("GET "+p+"/sandboxes/{id}/processes/{pid}/events", s.handleProcessEvents)
		handle("POST "+p+"/sandboxes/{id}/processes/{pid}/stdin", s.handleProcessStdin)
	}

	handle("POST "+p+"/sandboxes/{id}/pty", s.handlePTYCreate)
	handle("GET "+p+"/sandboxes/{id}/pty", s.handlePTYList)
	handle("GET "+p+"/sandboxes/{id}/pty/{pty_id}", s.handlePTYSocket)
	handle("POST "+p+"/sandboxes/{id}/pty/{pty_id}/resize", s.handlePTYResize)
	handle("DELETE "+p+"/sandboxes/{id}/pty/{pty_id}", s.handlePTYKill)

	if fullMode(s) {
		handle("GET "+p+"/sandboxes/{id}/ports/{port}/connect", s.handlePortConnect)
		handle(p+"/sandboxes/{id}/ports/{port}/http/{path...}", s.handlePortHTTP)
		handle("GET "+p+"/sandboxes/{id}/ports/{port}/url", s.handlePortURL)
	}

	s.features = s.enabledFeatures()
}

// featureTable lists every feature the server can advertise and when it is
// on.
var featureTable = []struct {
	name    string
	enabled func(*Server) bool
}{
	{wire.FeatureBinary, fullMode},
	{wire.FeatureProcessStdin, fullMode},
	{wire.FeatureAuth, func(s *Server) bool { return fullMode(s) && s.apiKey != nil }},
	{wire.FeatureFilesRaw, fullMode},
	{wire.FeatureProcessStream, fullMode},
	{wire.FeaturePTY, fullMode},
	{wire.FeaturePorts, fullMode},
	{wire.FeatureFilesArchive, fullMode},
	{wire.FeatureProcessDetach, fullMode},
	{wire.FeatureFilesWatch, fullMode},
}

// fullMode reports whether the server runs outside base mode.
func fullMode(s *Server) bool { return !s.cfg.BaseMode }

// enabledFeatures returns the sorted names of the features that are on.
func (s *Server) enabledFeatures() []string {
	var features []string
	for _, f := range featureTable {
		if f.enabled(s) {
			features = append(features, f.name)
		}
	}
	slices.Sort(features)
	return features
}

type healthResponse struct {
	Status   string   `json:"status"`
	Version  string   `json:"version"`
	Features []string `json:"features,omitempty"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "healthy", Version: Version, Features: s.features})
}
