package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/spf13/cobra"
)

// keyView is a signing key as the CLI prints it. The HS256 secret appears
// as a key of state "secret" (its kid only: never the secret).
type keyView struct {
	KID         string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state"`
	Signing     bool       `json:"signing"`
	Published   bool       `json:"published"`
	CreatedAt   *time.Time `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at"`
	RetiredAt   *time.Time `json:"retired_at"`
	VerifyUntil *time.Time `json:"verify_until"`
}

func keyViewOf(k *domain.SigningKey, now time.Time) keyView {
	created := k.CreatedAt.UTC()
	return keyView{KID: k.KID, Alg: k.Alg, State: string(k.State), Signing: k.State == domain.KeyActive,
		Published: k.Verifies(now), CreatedAt: &created, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt, VerifyUntil: k.VerifyUntil}
}

func (v keyView) text() string {
	return fmt.Sprintf("kid:          %s\nalg:          %s\nstate:        %s\nsigning:      %t\nverify_until: %s",
		v.KID, v.Alg, v.State, v.Signing, timeText(v.VerifyUntil))
}

func timeText(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func newKeysCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "Manage the token-signing keys (generate, activate, retire, list)",
		Long: `Manage the asymmetric keys access tokens are signed with. HS256 with
auth.secret_key signs until a key is activated. Keys live in the database, so
every replica shares them; their private halves are encrypted under
auth.key_encryption_key. A zero-downtime rotation:

  authsvc keys generate --alg EdDSA     # a next key: published in JWKS, not signing yet
  authsvc keys activate KID             # signs from now on; older tokens stay valid until they expire
  authsvc keys retire OLD_KID           # once its tokens have expired (or --force to end them now)

Every running serve picks up a change within twice auth.keys_refresh_interval.`,
		Example: `  authsvc keys generate --alg EdDSA -o json
  authsvc keys list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newKeysGenerateCommand(a), newKeysActivateCommand(a), newKeysRetireCommand(a), newKeysListCommand(a))
	return c
}

func newKeysGenerateCommand(a *app) *cobra.Command {
	var alg string
	c := &cobra.Command{
		Use:   "generate --alg EdDSA|ES256|RS256",
		Short: "Generate a next signing key (published in JWKS, not signing yet)",
		Long: `Generate a key pair and store it as a next key: its public key is published at
/.well-known/jwks.json at once, so consumers learn it before it signs. The
private key is stored encrypted under auth.key_encryption_key (required).
Text output is the new kid alone on one line.`,
		Example: `  KID=$(authsvc keys generate --alg EdDSA)
  authsvc keys generate --alg ES256 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !validAlg(alg) {
				return usagef("--alg must be one of %s, not %q", strings.Join(token.AsymmetricAlgs(), ", "), alg)
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			k, err := svc.keys.Generate(cmd.Context(), alg)
			if err != nil {
				return err
			}
			return a.print(keyViewOf(k, a.clock()), k.KID)
		},
	}
	c.Flags().StringVar(&alg, "alg", token.AlgEdDSA, "algorithm: EdDSA (Ed25519), ES256 (P-256) or RS256 (RSA 2048)")
	return c
}

func validAlg(alg string) bool {
	for _, a := range token.AsymmetricAlgs() {
		if a == alg {
			return true
		}
	}
	return false
}

func newKeysActivateCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "activate KID",
		Short: "Sign new access tokens with a next key; the previous key keeps verifying its tokens",
		Long: `Make a next key the one new access tokens are signed with. The key that signed
until now is retired, but its tokens stay valid until they expire (it keeps
verifying for auth.access_token_expire_minutes plus the propagation time).
If the key was generated moments ago, activate first waits until every
replica has had time to see it (twice auth.keys_refresh_interval), so that no
replica refuses the new tokens. Every replica needs auth.key_encryption_key
(the same value) to sign with the key: one without it answers /readyz 503 and
logs why at each refresh. Exit 3 when there is no such key, 4 when it is
not a next key.`,
		Example: `  authsvc keys activate "$KID"
  authsvc keys activate "$KID" -o json`,
		Args: exactArgs(1, "one KID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			if k, err := svc.keys.Get(cmd.Context(), args[0]); err == nil && k.State == domain.KeyNext {
				if wait := svc.keys.ReadyAt(k).Sub(a.clock()); wait > 0 {
					fmt.Fprintf(a.streams.Err, "waiting %s until every replica has seen key %s\n", wait.Round(time.Millisecond), k.KID)
				}
			}
			k, err := svc.keys.Activate(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(a.streams.Err, "warning: "+domain.MsgKeyEveryReplica+"\n", k.KID)
			v := keyViewOf(k, a.clock())
			return a.print(v, v.text())
		},
	}
	return c
}

func newKeysRetireCommand(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "retire KID",
		Short: "Stop a key from verifying (refused while its tokens could be valid, unless --force)",
		Long: `Retire a key: it no longer signs or verifies, and leaves the JWKS. A next key,
or a retired key whose tokens have all expired, is retired at once. The active
key, or a key whose tokens could still be valid, is refused (exit 4) unless
--force: then every token it signed is refused (401) from the next key refresh
on (within twice auth.keys_refresh_interval); retiring the active key with
--force makes HS256 with auth.secret_key sign again. Exit 3 when there is no
such key.`,
		Example: `  authsvc keys retire "$OLD_KID"
  authsvc keys retire "$LEAKED_KID" --force`,
		Args: exactArgs(1, "one KID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			k, err := svc.keys.Retire(cmd.Context(), args[0], force)
			if err != nil {
				return err
			}
			v := keyViewOf(k, a.clock())
			return a.print(v, v.text())
		},
	}
	c.Flags().BoolVar(&force, "force", false, "retire even though tokens it signed could still be valid (they get 401)")
	return c
}

func newKeysListCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys, the HS256 secret's kid first",
		Long: `List the signing keys, oldest first, after the HS256 secret (state "secret":
its kid only, never the secret). SIGNING marks the key new tokens are signed
with; PUBLISHED marks the keys in /.well-known/jwks.json.`,
		Example: "  authsvc keys list\n  authsvc keys list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			ks, err := svc.keys.List(cmd.Context())
			if err != nil {
				return err
			}
			now := a.clock()
			views := []keyView{{KID: svc.tokens.SecretKID(), Alg: token.AlgHS256, State: "secret", Signing: true}}
			for i := range ks {
				v := keyViewOf(&ks[i], now)
				if v.Signing {
					views[0].Signing = false
				}
				views = append(views, v)
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KID\tALG\tSTATE\tSIGNING\tPUBLISHED\tCREATED\tVERIFY_UNTIL")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%s\t%s\n", v.KID, v.Alg, v.State, v.Signing, v.Published,
					timeText(v.CreatedAt), timeText(v.VerifyUntil))
			}
			tw.Flush()
			return a.print(views, strings.TrimRight(b.String(), "\n"))
		},
	}
	return c
}
