package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newUserSessionsCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "sessions USERNAME",
		Short: "List a user's live sessions, newest first",
		Long: `List a user's live sessions: every login (and registration, and token issue)
starts one; refresh keeps it. End them with "authsvc user logout USERNAME".`,
		Example: "  authsvc user sessions alice\n  authsvc user sessions alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			_, sessions, err := svc.auth.UserSessions(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREATED\tREFRESHED\tEXPIRES\tCLIENT IP\tUSER AGENT")
			for _, s := range sessions { // the API's objects (without "current": the CLI has no session)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.CreatedAt.Format(time.RFC3339),
					s.RefreshedAt.Format(time.RFC3339), s.ExpiresAt.Format(time.RFC3339), s.ClientIP, s.UserAgent)
			}
			tw.Flush()
			return a.print(sessions, strings.TrimRight(b.String(), "\n"))
		},
	}
}

func newUserLogoutCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "logout USERNAME",
		Short: "End every session of a user",
		Long: `End every session of a user: all their tokens stop working at once (a token
issued before sessions existed lives until it expires). The password is unchanged.`,
		Example: "  authsvc user logout alice\n  authsvc user logout alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			n, err := svc.auth.LogoutUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.print(map[string]any{"username": args[0], "sessions_ended": n},
				fmt.Sprintf("ended %d session(s) of %s", n, args[0]))
		},
	}
}

func newUserVerifyCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "verify USERNAME",
		Short: "Mark a user's email address verified",
		Long: `Mark a user's current email address verified, as if they had used the link
sent to it (with auth.require_verified_email they can log in from now on).`,
		Example: "  authsvc user verify alice\n  authsvc user verify alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.VerifyUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := viewOf(u)
			return a.print(v, v.text())
		},
	}
}
