package server

import (
	"net/http"
	"slices"
)

// handle registers h for a Go 1.22 ServeMux pattern such as
// "GET /api/v1/sandboxes/{id}". Extension files call it from their
// register function.
func (s *Server) handle(pattern string, h http.HandlerFunc) { s.mux.HandleFunc(pattern, h) }

// routes builds the route table: the base protocol, then every registered
// extension; it also computes the advertised features.
func (s *Server) routes() {
	s.mux = http.NewServeMux()
	const p = "/api/v1"

	s.handle("GET "+p+"/health", s.handleHealth)

	s.handle("POST "+p+"/workspaces", s.handleCreateWorkspace)
	s.handle("GET "+p+"/workspaces", s.handleListWorkspaces)
	s.handle("GET "+p+"/workspaces/{id}", s.handleGetWorkspace)
	s.handle("DELETE "+p+"/workspaces/{id}", s.handleDeleteWorkspace)

	s.handle("GET "+p+"/workspaces/{id}/files", s.handleReadFile)
	s.handle("PUT "+p+"/workspaces/{id}/files", s.handleWriteFile)
	s.handle("DELETE "+p+"/workspaces/{id}/files", s.handleDeleteFile)
	s.handle("GET "+p+"/workspaces/{id}/files/list", s.handleListFiles)
	s.handle("GET "+p+"/workspaces/{id}/files/info", s.handleFileInfo)
	s.handle("POST "+p+"/workspaces/{id}/files/mkdir", s.handleMkdir)
	s.handle("POST "+p+"/workspaces/{id}/files/move", s.handleMove)
	s.handle("POST "+p+"/workspaces/{id}/files/copy", s.handleCopy)

	s.handle("POST "+p+"/sandboxes", s.handleCreateSandbox)
	s.handle("GET "+p+"/sandboxes", s.handleListSandboxes)
	s.handle("GET "+p+"/sandboxes/{id}", s.handleGetSandbox)
	s.handle("DELETE "+p+"/sandboxes/{id}", s.handleDeleteSandbox)

	s.handle("POST "+p+"/sandboxes/{id}/process/run", s.handleRun)
	s.handle("POST "+p+"/sandboxes/{id}/process/{pid}/kill", s.handleKill)

	var features []string
	if !s.cfg.BaseMode {
		features = append(features, "binary", "process.stdin")
		if s.apiKey != nil {
			features = append(features, "auth")
		}
	}
	for _, e := range extensions {
		e.register(s)
		if e.feature == "" {
			continue
		}
		on := !s.cfg.BaseMode
		if e.enabled != nil {
			on = e.enabled(s)
		}
		if on {
			features = append(features, e.feature)
		}
	}
	slices.Sort(features)
	s.features = slices.Compact(features)
}

type healthResponse struct {
	Status   string   `json:"status"`
	Version  string   `json:"version"`
	Features []string `json:"features,omitempty"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, healthResponse{Status: "healthy", Version: Version, Features: s.features})
}
