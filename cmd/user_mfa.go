package cmd

import (
	"github.com/spf13/cobra"
)

func newUserMFACommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "mfa",
		Short:   "Manage a user's second factor (TOTP)",
		Example: "  authsvc user mfa reset alice",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newUserMFAResetCommand(a))
	return c
}

func newUserMFAResetCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "reset USERNAME",
		Short: "Turn a user's two-factor authentication off (lost device)",
		Long: `Delete the user's TOTP secret and recovery codes, so that their next login
asks for the password only; they may enrol again afterwards. Every session
of the user ends (their tokens stop working and cannot be refreshed). The user is
emailed and the audit trail records mfa.reset (via cli). Check the person's
identity out of band first: this removes the account's second factor.
Exit code 3 when the user does not exist, 2 when MFA is not on.`,
		Example: "  authsvc user mfa reset alice\n  authsvc user mfa reset alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.ResetMFA(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			off := false
			v := viewOf(u)
			v.MFAEnabled = &off
			return a.print(v, v.text())
		},
	}
}
