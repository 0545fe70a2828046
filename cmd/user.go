package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// userView is a user as the CLI prints it (CONTRACT §7).
type userView struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	CreatedAt time.Time `json:"created_at"`
}

func viewOf(u *authsvc.User) userView {
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt.UTC()}
}

func (v userView) text() string {
	role := "user"
	if v.IsAdmin {
		role = "admin"
	}
	return fmt.Sprintf("id:         %d\nusername:   %s\nemail:      %s\nrole:       %s\ncreated_at: %s",
		v.ID, v.Username, v.Email, role, v.CreatedAt.Format(time.RFC3339))
}

func newUserCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Create, promote, delete, list and show users",
		Example: `  authsvc user create alice --email alice@example.com --password-stdin < pw.txt
  authsvc user promote alice
  authsvc user list --admins -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newUserCreateCommand(a), newUserPromoteCommand(a), newUserDeleteCommand(a),
		newUserListCommand(a), newUserShowCommand(a), newUserImportCommand(a))
	return c
}

func newUserCreateCommand(a *app) *cobra.Command {
	var email string
	var admin, passwordStdin bool
	c := &cobra.Command{
		Use:   "create USERNAME --email EMAIL",
		Short: "Create a user (same validation and hashing as registration)",
		Long: `Create a user. The password is read, in this order, from standard input with
--password-stdin (one line; the trailing newline is dropped), from the
AUTHSVC_PASSWORD environment variable, or from a prompt without echo when standard
input is a terminal. It is never taken from a flag. A welcome email is queued.`,
		Example: `  printf '%s\n' "$PASSWORD" | authsvc user create alice --email alice@example.com --password-stdin
  AUTHSVC_PASSWORD=... authsvc user create root --email root@example.com --admin -o json`,
		Args: exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if email == "" {
				return usagef("--email is required")
			}
			pw, err := a.readNewPassword(passwordStdin)
			if err != nil {
				return err
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.CreateUser(cmd.Context(), authsvc.Registration{Username: args[0], Email: email, Password: pw, IsAdmin: admin})
			if err != nil {
				return err
			}
			v := viewOf(u)
			return a.print(v, v.text())
		},
	}
	c.Flags().StringVar(&email, "email", "", "email address (required)")
	c.Flags().BoolVar(&admin, "admin", false, "make the user an admin")
	c.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	return c
}

// readNewPassword gets a password from stdin, AUTHSVC_PASSWORD or a prompt.
func (a *app) readNewPassword(fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.streams.In).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password: %w", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return "", usagef("--password-stdin: no password on standard input")
		}
		return line, nil
	}
	if pw, ok := os.LookupEnv("AUTHSVC_PASSWORD"); ok && pw != "" {
		return pw, nil
	}
	fd, ok := a.terminalFD()
	if !ok {
		return "", usagef("no password: use --password-stdin, set AUTHSVC_PASSWORD, or run on a terminal")
	}
	fmt.Fprint(a.streams.Err, "Password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(a.streams.Err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	fmt.Fprint(a.streams.Err, "Repeat password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(a.streams.Err)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	if string(first) != string(second) {
		return "", usagef("the passwords do not match")
	}
	return string(first), nil
}

// terminalFD returns stdin's descriptor when stdin is a terminal.
func (a *app) terminalFD() (int, bool) {
	f, ok := a.streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

func newUserPromoteCommand(a *app) *cobra.Command {
	var revoke bool
	c := &cobra.Command{
		Use:     "promote USERNAME",
		Short:   "Make a user an admin, or with --revoke an ordinary user again",
		Long:    "Grant or revoke admin rights. Admin rights are read from the database on every request, so the change applies to the user's live tokens at once.",
		Example: "  authsvc user promote alice\n  authsvc user promote alice --revoke -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.SetAdmin(cmd.Context(), args[0], !revoke)
			if err != nil {
				return err
			}
			v := viewOf(u)
			return a.print(v, v.text())
		},
	}
	c.Flags().BoolVar(&revoke, "revoke", false, "take admin rights away")
	return c
}

func newUserDeleteCommand(a *app) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "delete USERNAME",
		Short: "Delete a user, their credits and their tokens",
		Long: `Delete a user with their balance and history. Their live tokens stop working at
once. Asks for confirmation on a terminal; elsewhere --yes is required.`,
		Example: "  authsvc user delete alice\n  authsvc user delete alice --yes -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !yes {
				ok, err := a.confirm(fmt.Sprintf("Delete user %s and all their data? [y/N] ", args[0]))
				if err != nil {
					return err
				}
				if !ok {
					return errors.New("not deleted")
				}
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			if err := svc.auth.DeleteUser(cmd.Context(), args[0]); err != nil {
				return err
			}
			return a.print(map[string]any{"deleted": true, "username": args[0]}, "deleted "+args[0])
		},
	}
	c.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return c
}

// confirm asks a yes/no question on a terminal; without one it is a usage error.
func (a *app) confirm(question string) (bool, error) {
	if _, ok := a.terminalFD(); !ok {
		return false, usagef("refusing to delete without --yes when standard input is not a terminal")
	}
	fmt.Fprint(a.streams.Err, question)
	answer, _ := bufio.NewReader(a.streams.In).ReadString('\n')
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes", nil
}

func newUserListCommand(a *app) *cobra.Command {
	var limit int
	var admins bool
	c := &cobra.Command{
		Use:     "list",
		Short:   "List users, oldest first",
		Example: "  authsvc user list\n  authsvc user list --admins --limit 10 -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must not be negative")
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			users, err := svc.auth.ListUsers(cmd.Context(), authsvc.UserFilter{Limit: limit, AdminsOnly: admins})
			if err != nil {
				return err
			}
			views := make([]userView, len(users))
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tADMIN\tCREATED")
			for i, u := range users {
				views[i] = viewOf(u)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\n", u.ID, u.Username, u.Email, u.IsAdmin, views[i].CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			return a.print(views, strings.TrimRight(b.String(), "\n"))
		},
	}
	c.Flags().IntVar(&limit, "limit", 0, "at most this many users (0: all)")
	c.Flags().BoolVar(&admins, "admins", false, "only admins")
	return c
}

func newUserShowCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "show USERNAME",
		Short:   "Show one user",
		Example: "  authsvc user show alice\n  authsvc user show alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			u, err := svc.auth.UserByUsername(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			v := viewOf(u)
			return a.print(v, v.text())
		},
	}
}
