//go:build !windows

package server

import (
	"encoding/json"
	"fmt"
	"os"
)

// builtinTemplates use the host-root layout (SandboxSpec.RootFS "").
var builtinTemplates = []string{"default", "workspace-base:latest", "workspace-test:latest"}

// loadTemplates builds the template registry: the built-in names, then the
// JSON object in file (name -> root filesystem directory), then extra.
func loadTemplates(file string, extra map[string]string) (map[string]string, error) {
	t := map[string]string{}
	for _, n := range builtinTemplates {
		t[n] = ""
	}
	add := func(m map[string]string) error {
		for name, dir := range m {
			if name == "" {
				return fmt.Errorf("server: templates: empty template name")
			}
			if dir != "" {
				fi, err := os.Stat(dir)
				if err != nil {
					return fmt.Errorf("server: template %q: %w", name, err)
				}
				if !fi.IsDir() {
					return fmt.Errorf("server: template %q: %s is not a directory", name, dir)
				}
			}
			t[name] = dir
		}
		return nil
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("server: templates file: %w", err)
		}
		var m map[string]string
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("server: templates file %s: want a JSON object of name -> directory: %w", file, err)
		}
		if err := add(m); err != nil {
			return nil, err
		}
	}
	if err := add(extra); err != nil {
		return nil, err
	}
	return t, nil
}
