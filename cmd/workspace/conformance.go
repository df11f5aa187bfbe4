package main

import (
	"fmt"
	"os"
	"regexp"

	workspace "github.com/elevo/workspace-sdk-go"
	"github.com/elevo/workspace-sdk-go/internal/conformance"
	"github.com/spf13/cobra"
)

// conformanceCmd is "workspace conformance": the protocol conformance
// checks against the server, one line per check.
func (a *app) conformanceCmd() *cobra.Command {
	var slow bool
	var run string
	cmd := &cobra.Command{
		Use:   "conformance [--slow] [--run REGEXP]",
		Short: "Check the server against the Workspace protocol, one line per check",
		Long: `conformance drives every route of the Workspace protocol through the SDK
against the server and prints one line per check:

  PASS name
  FAIL name: the route and the difference
  SKIP name: why the check does not apply (a feature the server does not list)

It creates only workspaces and sandboxes named conformance-<random>-<n> and
removes them at the end, even after a failure. With an API key, the auth
check also calls the server without it. --slow adds the checks that move
17 MiB files and outputs. The exit status is 1 when a check failed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts := conformance.Options{Slow: slow}
			if run != "" {
				re, err := regexp.Compile(run)
				if err != nil {
					return usagef("bad --run %q: %v", run, err)
				}
				opts.Match = re.MatchString
			}
			return a.withClient(func(c *workspace.Client) error {
				if firstNonEmpty(a.apiKey, os.Getenv("WORKSPACE_API_KEY")) != "" {
					url := firstNonEmpty(a.apiURL, os.Getenv("WORKSPACE_API_URL"), defaultAPIURL)
					noKey, err := workspace.NewClient(url)
					if err != nil {
						return usagef("%v", err)
					}
					defer noKey.Close()
					opts.Unauthenticated = noKey
				}
				results := conformance.Run(cmd.Context(), c, opts)
				return a.printConformance(results)
			})
		},
	}
	cmd.Flags().BoolVar(&slow, "slow", false, "add the slow checks (17 MiB files and outputs)")
	cmd.Flags().StringVar(&run, "run", "", "run only the checks whose name matches this regular expression")
	return cmd
}

// printConformance prints the results (lines, or JSON with -o json) and
// fails when any check failed.
func (a *app) printConformance(results []conformance.Result) error {
	failed := 0
	type jsonResult struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Detail string `json:"detail,omitempty"`
	}
	js := make([]jsonResult, 0, len(results))
	for _, r := range results {
		if r.Status == conformance.Fail {
			failed++
		}
		if a.output == "json" {
			js = append(js, jsonResult{r.Name, string(r.Status), r.Detail})
			continue
		}
		if _, err := fmt.Fprintln(a.stdout, r); err != nil {
			return err
		}
	}
	if a.output == "json" {
		if err := printJSON(a.stdout, js); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("conformance: %d of %d checks failed", failed, len(results))
	}
	return nil
}
