package cmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/authsvc/authsvc/pkg/account"
)

// passkeyView is a passkey as `user show` prints it.
type passkeyView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Synced     bool       `json:"synced"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

func passkeyViews(ctx context.Context, auth *account.Service, userID int64) ([]passkeyView, error) {
	keys, err := auth.Passkeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []passkeyView{}
	for _, k := range keys {
		out = append(out, passkeyView{ID: k.ID, Name: k.Name, Synced: k.BackupState, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt})
	}
	return out, nil
}

// passkeysText is the passkeys lines of `user show` ("" when none).
func passkeysText(keys []passkeyView) string {
	lines := make([]string, len(keys))
	for i, k := range keys {
		kind := "device-bound"
		if k.Synced {
			kind = "synced"
		}
		lines[i] = fmt.Sprintf("%d %q (%s, added %s)", k.ID, k.Name, kind, k.CreatedAt.Format(time.RFC3339))
	}
	return listText("passkeys:", lines)
}

// listText is a list field of `user show`: the label on the first line,
// the others aligned under it ("" when there are none).
func listText(label string, lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(&b, "\n%-12s%s", label, l)
		} else {
			fmt.Fprintf(&b, "\n%12s%s", "", l)
		}
	}
	return b.String()
}

// idArg reads a positive id argument; a usage error otherwise.
func idArg(arg, what string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%s ID must be a positive number, not %q", what, arg)
	}
	return id, nil
}

func newUserPasskeysCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "passkeys",
		Short:   "Manage a user's passkeys (list them with user show)",
		Example: "  authsvc user show alice\n  authsvc user passkeys delete alice 7",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newUserPasskeysDeleteCommand(a))
	return c
}

func newUserPasskeysDeleteCommand(a *app) *cobra.Command {
	var force bool
	c := &cobra.Command{
		Use:   "delete USERNAME ID",
		Short: "Delete one of a user's passkeys (lost or stolen authenticator)",
		Long: `Delete the user's passkey with that id (the ids are in authsvc user show).
The audit trail records passkey.removed (via cli). The user keeps their
password and any other passkey. Exit code 3 when the user or the passkey
does not exist.

The last way an account without a password signs in (no other passkey,
no linked identity) is refused (exit code 4, last_sign_in_method) unless --force: then
the user can sign in again only after a password reset (the mail's link
sets a password), which is the recovery for a stolen, only passkey.`,
		Example: "  authsvc user passkeys delete alice 7\n  authsvc user passkeys delete alice 7 -o json\n" +
			"  authsvc user passkeys delete alice 7 --force   # even her last way to sign in",
		Args: exactArgs(2, "USERNAME and a passkey ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := idArg(args[1], "passkey")
			if err != nil {
				return err
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.AdminDeletePasskey(cmd.Context(), args[0], id, force)
			if err != nil {
				return err
			}
			v := viewOf(u)
			if v.Passkeys, err = passkeyViews(cmd.Context(), svc.auth, u.ID); err != nil {
				return err
			}
			if v.Identities, err = identityViews(cmd.Context(), svc.auth, u.ID); err != nil {
				return err
			}
			if !u.HasPassword() && len(v.Passkeys) == 0 && len(v.Identities) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s has no way to sign in left: they sign in again only after a password reset\n", u.Username)
			}
			return a.print(v, v.text())
		},
	}
	c.Flags().BoolVar(&force, "force", false, "delete even the account's last way to sign in (it then needs a password reset)")
	return c
}
