package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
)

func newAPIKeyCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "apikey",
		Short: "Work with API keys (ask_…): create, list, revoke, check",
		Example: `  authsvc apikey create alice --name "nightly report" --scope credits:read --scope credits:use
  authsvc apikey list alice
  authsvc apikey revoke alice 3f2a…
  authsvc apikey check ask_…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newAPIKeyCreateCommand(a), newAPIKeyListCommand(a), newAPIKeyRevokeCommand(a), newAPIKeyCheckCommand(a))
	return c
}

func newAPIKeyCreateCommand(a *app) *cobra.Command {
	var (
		name, spendPeriod, spendAmount string
		scopes                         []string
		expiresIn                      time.Duration
		rate                           int
	)
	c := &cobra.Command{
		Use:   "create USERNAME --name NAME --scope SCOPE…",
		Short: "Create an API key for a user (shown once)",
		Long: `Create an API key for USERNAME, as POST /auth/api-keys does for a signed-in
user: audited (as the command line's) and mailed to the user. The key is
printed this once; authsvc keeps only its SHA-256. Built-in scopes:
profile:read, credits:read, credits:use, credits:hold; other scopes are kept
for your product. --rate-limit bounds the key's requests per minute;
--spend-limit with --spend-period bounds what POST /keys/verify may charge
through it per UTC day, per UTC month, or in total.`,
		Example: `  authsvc apikey create alice --name "nightly report" --scope credits:read --scope credits:use
  authsvc apikey create alice --name metering --scope reports:run --spend-limit 10.00 --spend-period day --rate-limit 600
  authsvc apikey create alice --name ci --scope profile:read --expires-in 720h -o json`,
		Args: exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := domain.NewAPIKey{Name: name, Scopes: scopes}
			if expiresIn > 0 {
				t := a.clock().Add(expiresIn)
				req.ExpiresAt = &t
			}
			if cmd.Flags().Changed("rate-limit") {
				req.RateLimitPerMinute = &rate
			}
			if spendAmount != "" || spendPeriod != "" {
				req.SpendLimit = &domain.NewSpendLimit{Amount: json.RawMessage(spendAmount), Period: spendPeriod}
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, k, err := svc.apiKeys.CreateForUser(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return a.print(k, fmt.Sprintf("created API key %s (%s) for %s; it is shown this once:\n%s", k.ID, k.Name, u.Username, k.Key))
		},
	}
	c.Flags().StringVar(&name, "name", "", "a label for the key (required)")
	c.Flags().StringArrayVar(&scopes, "scope", nil, "a scope the key carries (repeat; at least one)")
	c.Flags().DurationVar(&expiresIn, "expires-in", 0, "the key stops working after this long (e.g. 720h); never when absent")
	c.Flags().IntVar(&rate, "rate-limit", 0, "requests and verifications per minute (1-1000000)")
	c.Flags().StringVar(&spendAmount, "spend-limit", "", "the most POST /keys/verify may charge per --spend-period (e.g. 10.00)")
	c.Flags().StringVar(&spendPeriod, "spend-period", "", "day, month or total")
	return c
}

func newAPIKeyListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list USERNAME",
		Short:   "List a user's live API keys (never their secrets)",
		Example: "  authsvc apikey list alice\n  authsvc apikey list alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			keys, err := svc.apiKeys.ListForUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var text strings.Builder
			fmt.Fprintf(&text, "%d API key(s) of %s", len(keys), args[0])
			for _, k := range keys {
				fmt.Fprintf(&text, "\n%s  %s…  %-20s  %s", k.ID, k.Shown, k.Name, strings.Join(k.Scopes, ","))
			}
			return a.print(map[string]any{"keys": keys}, text.String())
		},
	}
}

func newAPIKeyRevokeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke USERNAME ID",
		Short: "Revoke one of a user's API keys",
		Long: `Revoke the key ID (from "authsvc apikey list") of USERNAME: every replica
refuses it within a second. Audited (as the command line's) and mailed to the
user.`,
		Example: "  authsvc apikey revoke alice 3f2a9c…",
		Args:    exactArgs(2, "USERNAME and the key's ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			if err := svc.apiKeys.RevokeForUser(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			return a.print(map[string]any{"username": args[0], "key_id": args[1], "revoked": true},
				fmt.Sprintf("revoked API key %s of %s", args[1], args[0]))
		},
	}
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
