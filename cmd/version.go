package cmd

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X github.com/authsvc/authsvc/cmd.version=...".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, commit and build date",
		Example: "  authsvc version\n  authsvc version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := map[string]string{"version": version, "commit": commit, "date": date, "go": runtime.Version()}
			return a.print(info, fmt.Sprintf("authsvc %s (commit %s, built %s, %s)", version, commit, date, runtime.Version()))
		},
	}
}
