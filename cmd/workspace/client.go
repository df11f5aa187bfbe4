package main

import (
	"context"
	"os"
	"strings"
	"time"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/spf13/cobra"
)

// defaultAPIURL is the server address when neither --api-url nor
// WORKSPACE_API_URL is set.
const defaultAPIURL = workspace.DefaultAPIURL

// newClient returns an SDK client configured from the environment
// (WORKSPACE_API_URL, WORKSPACE_API_KEY, WORKSPACE_TIMEOUT), overridden by
// the flags. It reads the same variables as workspace.NewClientFromEnv,
// which it cannot call: --api-url must override WORKSPACE_API_URL, and the
// SDK has no option for the URL.
func (a *app) newClient() (*workspace.Client, error) {
	url := firstNonEmpty(a.apiURL, os.Getenv("WORKSPACE_API_URL"), defaultAPIURL)
	var opts []workspace.Option
	if key := firstNonEmpty(a.apiKey, os.Getenv("WORKSPACE_API_KEY")); key != "" {
		opts = append(opts, workspace.WithAPIKey(key))
	}
	if t := firstNonEmpty(a.timeout, os.Getenv("WORKSPACE_TIMEOUT")); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, usagef("bad timeout %q: want a positive Go duration such as 30s", t)
		}
		opts = append(opts, workspace.WithTimeout(d))
	}
	c, err := workspace.NewClient(url, opts...)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return c, nil
}

// withClient runs f with a new client and closes it afterwards.
func (a *app) withClient(f func(c *workspace.Client) error) error {
	c, err := a.newClient()
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

// clientRunE is the RunE of a command whose whole work needs one client: f
// gets the command's context, a new client and the arguments.
func (a *app) clientRunE(f func(ctx context.Context, c *workspace.Client, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return a.withClient(func(c *workspace.Client) error { return f(cmd.Context(), c, args) })
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseKeyValues turns KEY=VALUE strings (from -e or --meta) into a map.
func parseKeyValues(flag string, kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usagef("bad %s %q: want KEY=VALUE", flag, kv)
		}
		m[k] = v
	}
	return m, nil
}
