package cmd

import (
	"fmt"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
)

func newClientCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "client",
		Short: "Register the apps that sign their users in through authsvc (OpenID Connect clients)",
		Long: `Register, list, show and delete OpenID Connect clients, and rotate their
secrets. Every change is audited. The OpenID Connect provider that serves
these clients is not part of this version yet; registrations made now are
kept for it (see docs/oidc.md).`,
		Example: `  authsvc client create "Team dashboard" --redirect-uri https://dash.example.com/oauth2/callback --first-party
  authsvc client create "Mobile app" --public --redirect-uri com.example.app:/callback
  authsvc client create "Billing job" --grant client_credentials --scope keys:verify
  authsvc client list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newClientCreateCommand(a), newClientListCommand(a), newClientShowCommand(a),
		newClientDeleteCommand(a), newClientRotateSecretCommand(a))
	return c
}

func newClientCreateCommand(a *app) *cobra.Command {
	var req domain.NewOIDCClient
	c := &cobra.Command{
		Use:   "create NAME --redirect-uri URI…",
		Short: "Register a client; a confidential client's secret is shown once",
		Long: `Register an application. A confidential client (a server-side web app, a
service) gets a secret, printed this once; authsvc keeps only its SHA-256.
--public registers one that cannot keep a secret (a SPA, a mobile app): it
must use PKCE and may not use client_credentials.

Redirect URIs are matched exactly (no prefix or wildcard): https, http on a
loopback host only (localhost, 127.0.0.1, [::1]), or a private-use scheme
such as com.example.app:/callback. Grants: authorization_code and
refresh_token by default, or client_credentials for machine-to-machine
calls. Scopes: openid profile email by default. --first-party clients are
never asked for consent.`,
		Example: `  authsvc client create "Team dashboard" --redirect-uri https://dash.example.com/oauth2/callback --first-party
  authsvc client create "SPA" --public --redirect-uri https://app.example.com/callback --redirect-uri http://localhost:5173/callback
  authsvc client create "Billing job" --grant client_credentials --scope keys:verify -o json`,
		Args: exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			c, err := svc.clients.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			text := fmt.Sprintf("registered client %s (%s)", c.ID, c.Name)
			if c.Secret != "" {
				text += "; its secret is shown this once:\n" + c.Secret
			}
			return a.print(c, text)
		},
	}
	f := c.Flags()
	f.StringArrayVar(&req.RedirectURIs, "redirect-uri", nil, "where the client receives codes (repeat; matched exactly)")
	f.StringArrayVar(&req.PostLogoutRedirectURIs, "post-logout-redirect-uri", nil, "where the client may be sent after signing out (repeat)")
	f.StringArrayVar(&req.Grants, "grant", nil, "authorization_code, refresh_token, client_credentials (repeat; default the first two)")
	f.StringArrayVar(&req.Scopes, "scope", nil, "a scope the client may ask for (repeat; default openid, profile, email)")
	f.BoolVar(&req.Public, "public", false, "a client that cannot keep a secret (SPA, mobile app): PKCE, no secret")
	f.BoolVar(&req.FirstParty, "first-party", false, "your own app: its users are never asked for consent")
	f.StringVar(&req.IDTokenAlg, "id-token-alg", "RS256", "the algorithm of its ID tokens: RS256, ES256 or EdDSA")
	return c
}

func newClientListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the registered clients (never their secrets)",
		Example: "  authsvc client list\n  authsvc client list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			clients, err := svc.clients.List(cmd.Context())
			if err != nil {
				return err
			}
			var text strings.Builder
			fmt.Fprintf(&text, "%d client(s)", len(clients))
			for _, c := range clients {
				kind := "confidential"
				if c.Public {
					kind = "public"
				}
				fmt.Fprintf(&text, "\n%s  %-12s  %-24s  %s", c.ID, kind, c.Name, strings.Join(c.Grants, ","))
			}
			return a.print(map[string]any{"clients": clients}, text.String())
		},
	}
}

func newClientShowCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "show CLIENT_ID",
		Short:   "Show one client's registration",
		Example: "  authsvc client show 4f3k…\n  authsvc client show 4f3k… -o json",
		Args:    exactArgs(1, "one CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			c, err := svc.clients.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			text := fmt.Sprintf("client %s (%s)\npublic: %t\nfirst party: %t\nredirect URIs: %s\npost-logout redirect URIs: %s\ngrants: %s\nscopes: %s\nID token algorithm: %s",
				c.ID, c.Name, c.Public, c.FirstParty, strings.Join(c.RedirectURIs, " "), strings.Join(c.PostLogoutRedirectURIs, " "),
				strings.Join(c.Grants, " "), strings.Join(c.Scopes, " "), c.IDTokenAlg)
			return a.print(c, text)
		},
	}
}

func newClientDeleteCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "delete CLIENT_ID",
		Short:   "Delete a client's registration",
		Example: "  authsvc client delete 4f3k…",
		Args:    exactArgs(1, "one CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			if err := svc.clients.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.print(map[string]any{"client_id": args[0], "deleted": true}, "deleted client "+args[0])
		},
	}
}

func newClientRotateSecretCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate-secret CLIENT_ID",
		Short: "Give a confidential client a new secret (shown once); the old one stops working",
		Example: `  authsvc client rotate-secret 4f3k…
  authsvc client rotate-secret 4f3k… -o json | jq -r .client_secret`,
		Args: exactArgs(1, "one CLIENT_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			secret, err := svc.clients.RotateSecret(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(map[string]any{"client_id": args[0], "client_secret": secret},
				"new secret of client "+args[0]+", shown this once:\n"+secret)
		},
	}
}
