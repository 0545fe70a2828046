package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/authsvc/authsvc/pkg/account"
)

// identityView is a linked identity as `user show` prints it.
type identityView struct {
	ID         int64     `json:"id"`
	Provider   string    `json:"provider"`
	Subject    string    `json:"subject"`
	Email      string    `json:"email"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
}

func identityViews(ctx context.Context, auth *account.Service, userID int64) ([]identityView, error) {
	ids, err := auth.AdminIdentities(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := []identityView{}
	for _, i := range ids {
		out = append(out, identityView{ID: i.ID, Provider: i.Provider, Subject: i.Subject, Email: i.Email,
			CreatedAt: i.CreatedAt, LastUsedAt: i.LastUsedAt})
	}
	return out, nil
}

// identitiesText is the identities lines of `user show` ("" when none).
func identitiesText(ids []identityView) string {
	lines := make([]string, len(ids))
	for i, id := range ids {
		lines[i] = fmt.Sprintf("%d %s %s <%s> (linked %s)", id.ID, id.Provider, id.Subject, id.Email, id.CreatedAt.Format(time.RFC3339))
	}
	return listText("identities:", lines)
}

func newUserIdentitiesCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "identities",
		Short:   "Manage the identity provider accounts linked to a user (list them with user show)",
		Example: "  authsvc user show alice\n  authsvc user identities unlink alice 3",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newUserIdentitiesUnlinkCommand(a))
	return c
}

func newUserIdentitiesUnlinkCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "unlink USERNAME ID",
		Short: "Unlink one of a user's identity provider accounts",
		Long: `Unlink the user's identity with that id (the ids are in authsvc user show):
the provider account no longer signs in to this user. Refused (exit code 4)
when it is the account's last way to sign in: no password, no passkey and no
other identity (send the user a password reset first, or delete the user).
The audit trail records identity.unlinked (via cli). Exit code 3 when the
user or the identity does not exist.`,
		Example: "  authsvc user identities unlink alice 3\n  authsvc user identities unlink alice 3 -o json",
		Args:    exactArgs(2, "USERNAME and an identity ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := idArg(args[1], "identity")
			if err != nil {
				return err
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.AdminUnlinkIdentity(cmd.Context(), args[0], id)
			if err != nil {
				return err
			}
			v := viewOf(u)
			if v.Identities, err = identityViews(cmd.Context(), svc.auth, u.ID); err != nil {
				return err
			}
			return a.print(v, v.text())
		},
	}
}
