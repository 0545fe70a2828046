package cmd

import (
	"time"

	"github.com/spf13/cobra"
)

func newTokenCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "token",
		Short:   "Issue access tokens",
		Example: "  authsvc token issue alice --ttl 15m",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newTokenIssueCommand(a))
	return c
}

func newTokenIssueCommand(a *app) *cobra.Command {
	var ttl time.Duration
	c := &cobra.Command{
		Use:   "issue USERNAME",
		Short: "Issue an access token for a user (the same claims as login)",
		Long: `Issue an access token the server accepts, with the same claims as a login.
Text output is the token alone on one line, so it can be captured in a shell variable.
While an asymmetric signing key is active (authsvc keys list), the token is signed
with it, which needs auth.key_encryption_key (AUTHSVC_AUTH_KEY_ENCRYPTION_KEY), the
one serve uses; otherwise HS256 with auth.secret_key signs.`,
		Example: `  TOKEN=$(authsvc token issue alice --ttl 15m)
  curl -H "Authorization: Bearer $TOKEN" localhost:8080/auth/me
  authsvc token issue alice -o json`,
		Args: exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl <= 0 {
				return usagef("--ttl must be positive")
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			if err := svc.keys.Load(cmd.Context()); err != nil { // sign with the active key, as serve does
				return err
			}
			tok, err := svc.auth.IssueToken(cmd.Context(), args[0], ttl)
			if err != nil {
				return err
			}
			out := map[string]any{"access_token": tok.Token, "token_type": "bearer", "expires_at": tok.Claims.ExpiresAt.UTC()}
			return a.print(out, tok.Token)
		},
	}
	c.Flags().DurationVar(&ttl, "ttl", time.Hour, "token lifetime")
	return c
}
