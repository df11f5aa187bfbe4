package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// TestConformanceCommand: against the reference server with a key every
// check passes or is skipped with a reason, one line each, and the auth
// check runs (the command makes the key-less client itself).
func TestConformanceCommand(t *testing.T) {
	srv := newServer(t)
	out := ok(t, srv, "conformance")
	for _, want := range []string{"PASS health\n", "PASS files/errors\n", "PASS process.stream/events\n", "PASS auth/unauthorized\n", "SKIP limits/json-read: slow check"} {
		if !strings.Contains(out, want) {
			t.Errorf("conformance output lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "PASS ") && !strings.HasPrefix(line, "SKIP ") {
			t.Errorf("line %q: want PASS or SKIP", line)
		}
	}
}

// TestConformanceCommandFails: a proxy that answers 3001 for 7001 makes
// the matching check FAIL with the route, and the command exit 1.
func TestConformanceCommandFails(t *testing.T) {
	srv := newServer(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode != http.StatusNotFound {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = bytes.ReplaceAll(b, []byte("7001"), []byte("3001"))
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	ps := httptest.NewServer(proxy)
	defer ps.Close()
	r := cli(t, srv, nil, "conformance", "--api-url", ps.URL, "--run", "^workspaces/")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if want := "FAIL workspaces/crud: GET /workspaces/{id} after delete: want code 7001 HTTP 404, got code 3001"; !strings.Contains(r.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
	}
	if !strings.Contains(r.stderr, "1 of 1 checks failed") {
		t.Errorf("stderr %q lacks the count of failures", r.stderr)
	}
}
