package main

import (
	"io"

	"github.com/spf13/cobra"
)

// app holds what every command shares: the standard streams and the
// global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	apiURL  string // --api-url, else WORKSPACE_API_URL
	apiKey  string // --api-key, else WORKSPACE_API_KEY
	timeout string // --timeout, else WORKSPACE_TIMEOUT
	output  string // -o: "table" or "json"
}

// newRootCmd builds the whole command tree.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "workspace",
		Short: "Work with Elevo Workspace servers: workspaces, sandboxes, commands, shells and files",
		Long: `workspace is the command line of the Elevo Workspace service.

It talks to the server at WORKSPACE_API_URL (default http://localhost:8080)
with the key in WORKSPACE_API_KEY; --api-url and --api-key override them.
Remote files are named WORKSPACE:PATH, e.g. ws-1a2b:src/main.go.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if a.output != "table" && a.output != "json" {
				return usagef("bad -o %q: want table or json", a.output)
			}
			return nil
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.apiURL, "api-url", "", "server URL (default $WORKSPACE_API_URL, else http://localhost:8080)")
	pf.StringVar(&a.apiKey, "api-key", "", "API key (default $WORKSPACE_API_KEY)")
	pf.StringVar(&a.timeout, "timeout", "", "timeout of each request, a Go duration such as 30s (default $WORKSPACE_TIMEOUT, else 30s)")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table or json")

	root.AddCommand(
		a.workspaceLsCmd(),
		a.workspaceCreateCmd(),
		a.workspaceRmCmd(),
		a.sandboxCmd(),
		a.execCmd(),
		a.shellCmd(),
		a.cpCmd(),
		a.filesCmd(),
		a.healthCmd(),
		a.conformanceCmd(),
		newServeCmd(stderr),
	)
	a.addNextCommands(root)
	return root
}

// exactArgs is cobra.ExactArgs with a usage error (exit status 2).
func exactArgs(n int) cobra.PositionalArgs {
	return wrapArgs(cobra.ExactArgs(n))
}

// minArgs is cobra.MinimumNArgs with a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return wrapArgs(cobra.MinimumNArgs(n))
}

// groupArgs rejects arguments of a command that only groups subcommands,
// as an unknown subcommand.
func groupArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

func wrapArgs(f cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := f(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}
