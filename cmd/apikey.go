package cmd

import (
	"bufio"
	"strings"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/spf13/cobra"
)

func newAPIKeyCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "apikey",
		Short:   "Work with API keys (ask_…)",
		Example: "  authsvc apikey check ask_…",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newAPIKeyCheckCommand(a))
	return c
}

func newAPIKeyCheckCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "check KEY|-",
		Short: "Check an API key's format and checksum offline (no database)",
		Long: `Check that KEY is shaped like an authsvc API key: "ask_", 43 base62
characters, and a 6-character checksum of them. Nothing is looked up: a key
that passes may still be unknown, expired or revoked, but one that fails was
mistyped, altered or never issued by authsvc. Give - to read the key from
standard input, which keeps it out of the shell history.
Exit code 0 when the key is well-formed, 2 when it is not.`,
		Example: `  authsvc apikey check ask_0K6pT…
  pbpaste | authsvc apikey check -
  authsvc apikey check - -o json < key.txt`,
		Args: exactArgs(1, "one KEY (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if key == "-" {
				line, err := bufio.NewReader(a.streams.In).ReadString('\n')
				if err != nil && line == "" {
					return usagef("no key on standard input")
				}
				key = strings.TrimSpace(line)
			}
			if err := apikey.Check(key); err != nil {
				return usageError{err}
			}
			return a.print(map[string]any{"valid": true, "shown": apikey.Shown(key)},
				"ok: "+apikey.Shown(key)+"… is a well-formed API key")
		},
	}
}
