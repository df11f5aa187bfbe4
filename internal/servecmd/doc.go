// Package servecmd is the reference server's command line: its flags,
// their environment fallbacks, and the serve loop, shared by
// cmd/workspace-server and "workspace serve". Not built on Windows, where
// the server does not run.
package servecmd
