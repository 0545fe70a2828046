package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// userView is a user as the CLI prints it (docs/cli.md).
type userView struct {
	ID            int64     `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email"`
	IsAdmin       bool      `json:"is_admin"`
	CreatedAt     time.Time `json:"created_at"`
	EmailVerified bool      `json:"email_verified"`
	MFAEnabled    *bool     `json:"mfa_enabled,omitempty"` // user show only
	// HasPassword: user show only; false for an account made with a passkey
	// or an identity provider.
	HasPassword *bool `json:"has_password,omitempty"`
	// Passkeys: user show only.
	Passkeys []passkeyView `json:"passkeys,omitempty"`
	// Identities are the linked identity provider accounts: user show only.
	Identities []identityView `json:"identities,omitempty"`
}

func viewOf(u *domain.User) userView {
	return userView{ID: u.ID, Username: u.Username, Email: u.Email, IsAdmin: u.IsAdmin, CreatedAt: u.CreatedAt.UTC(),
		EmailVerified: u.EmailVerified()}
}

func (v userView) text() string {
	role := "user"
	if v.IsAdmin {
		role = "admin"
	}
	text := fmt.Sprintf("id:         %d\nusername:   %s\nemail:      %s\nverified:   %t\nrole:       %s\ncreated_at: %s",
		v.ID, v.Username, v.Email, v.EmailVerified, role, v.CreatedAt.Format(time.RFC3339))
	if v.MFAEnabled != nil {
		mfa := "off"
		if *v.MFAEnabled {
			mfa = "on (totp)"
		}
		text += "\nmfa:        " + mfa
	}
	if v.HasPassword != nil {
		state := "set"
		if !*v.HasPassword {
			state = "none (set one with a password reset)"
		}
		text += "\npassword:   " + state
	}
	return text + passkeysText(v.Passkeys) + identitiesText(v.Identities)
}

func newUserCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:   "user",
		Short: "Create, promote, delete, list and show users; list and end their sessions; reset their second factor",
		Example: `  authsvc user create alice --email alice@example.com --password-stdin < pw.txt
  authsvc user promote alice
  authsvc user list --admins -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newUserCreateCommand(a), newUserPromoteCommand(a), newUserDeleteCommand(a),
		newUserListCommand(a), newUserShowCommand(a), newUserSessionsCommand(a), newUserLogoutCommand(a),
		newUserVerifyCommand(a), newUserImportCommand(a), newUserMFACommand(a),
		newUserPasskeysCommand(a), newUserIdentitiesCommand(a))
	return c
}

func newUserCreateCommand(a *app) *cobra.Command {
	var email string
	var admin, passwordStdin, verified bool
	c := &cobra.Command{
		Use:   "create USERNAME --email EMAIL",
		Short: "Create a user (same validation and hashing as registration)",
		Long: `Create a user. The password is read, in this order, from standard input with
--password-stdin (one line; the trailing newline is dropped), from the
AUTHSVC_PASSWORD environment variable, or from a prompt without echo when standard
input is a terminal. It is never taken from a flag. A welcome email is queued, and
a link verifying the email unless --verified says it is known to be right.`,
		Example: `  printf '%s\n' "$PASSWORD" | authsvc user create alice --email alice@example.com --password-stdin
  AUTHSVC_PASSWORD=... authsvc user create root --email root@example.com --admin --verified -o json`,
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
			u, err := svc.auth.CreateUser(cmd.Context(), domain.Registration{Username: args[0], Email: email, Password: pw, IsAdmin: admin,
				Verified: verified})
			if err != nil {
				return err
			}
			v := viewOf(u)
			return a.print(v, v.text())
		},
	}
	c.Flags().StringVar(&email, "email", "", "email address (required)")
	c.Flags().BoolVar(&admin, "admin", false, "make the user an admin")
	c.Flags().BoolVar(&verified, "verified", false, "the email counts as verified (no verification link is sent)")
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

// userListPage is how many users `user list --all` reads per query.
const userListPage = 1000

func newUserListCommand(a *app) *cobra.Command {
	var limit int
	var after int64
	var admins, all bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List users, oldest first, one page at a time (or --all)",
		Long: `List users ordered by id, oldest first. One page of --limit users (default 100);
when more follow, the command for the next page is printed on stderr (--after the
last id shown). --all streams every user with constant memory, as a text table or,
with -o json, one JSON array.`,
		Example: "  authsvc user list\n  authsvc user list --after 100 --limit 50\n" +
			"  authsvc user list --admins -o json\n  authsvc user list --all -o json > users.json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit must not be negative (0: every user, as --all)")
			}
			all = all || limit == 0 // what --limit 0 always meant
			if after < 0 {
				return usagef("--after must not be negative")
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			out := newUserListWriter(a)
			f := domain.UserFilter{AdminsOnly: admins, AfterID: after}
			if !all {
				f.Limit = limit + 1 // one more tells whether another page follows
				users, err := svc.auth.ListUsers(cmd.Context(), f)
				if err != nil {
					return err
				}
				more := len(users) > limit
				users = users[:min(len(users), limit)]
				if err := out.write(users); err != nil {
					return err
				}
				if more {
					fmt.Fprintf(a.streams.Err, "more users: authsvc user list --after %d --limit %d\n", users[len(users)-1].ID, limit)
				}
				return out.close()
			}
			for f.Limit = userListPage; ; f.AfterID = out.lastID {
				users, err := svc.auth.ListUsers(cmd.Context(), f)
				if err != nil {
					return err
				}
				if err := out.write(users); err != nil {
					return err
				}
				if len(users) < f.Limit {
					return out.close()
				}
			}
		},
	}
	c.Flags().IntVar(&limit, "limit", 100, "at most this many users (0: every user, as --all)")
	c.Flags().Int64Var(&after, "after", 0, "only users whose id is greater (the next page)")
	c.Flags().BoolVar(&all, "all", false, "every user, streamed (ignores --limit)")
	c.Flags().BoolVar(&admins, "admins", false, "only admins")
	return c
}

// userListWriter prints users as they are read, page after page: an aligned
// table (re-aligned per page) or, with -o json, one JSON array written an
// element at a time, so that memory stays flat however many users there are.
type userListWriter struct {
	a       *app
	tw      *tabwriter.Writer
	written int
	lastID  int64 // the id of the last user written
}

func newUserListWriter(a *app) *userListWriter {
	w := &userListWriter{a: a}
	if !a.jsonOutput() {
		w.tw = tabwriter.NewWriter(a.streams.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w.tw, "ID\tUSERNAME\tEMAIL\tADMIN\tCREATED")
	}
	return w
}

func (w *userListWriter) write(users []*domain.User) error {
	for _, u := range users {
		v := viewOf(u)
		w.lastID = u.ID
		if w.tw != nil {
			fmt.Fprintf(w.tw, "%d\t%s\t%s\t%t\t%s\n", v.ID, v.Username, v.Email, v.IsAdmin, v.CreatedAt.Format(time.RFC3339))
			continue
		}
		b, err := json.MarshalIndent(v, "  ", "  ")
		if err != nil {
			return err
		}
		sep := ",\n  "
		if w.written == 0 {
			sep = "[\n  "
		}
		if _, err := fmt.Fprintf(w.a.streams.Out, "%s%s", sep, b); err != nil {
			return err
		}
		w.written++
	}
	if w.tw != nil {
		return w.tw.Flush()
	}
	return nil
}

func (w *userListWriter) close() error {
	if w.tw != nil {
		return w.tw.Flush()
	}
	end := "\n]\n"
	if w.written == 0 {
		end = "[]\n"
	}
	_, err := fmt.Fprint(w.a.streams.Out, end)
	return err
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
			on, err := svc.auth.MFAEnabled(cmd.Context(), u.ID)
			if err != nil {
				return err
			}
			v := viewOf(u)
			hasPassword := u.HasPassword()
			v.MFAEnabled, v.HasPassword = &on, &hasPassword
			if v.Passkeys, err = passkeyViews(cmd.Context(), svc.auth, u.ID); err != nil {
				return err
			}
			if v.Identities, err = identityViews(cmd.Context(), svc.auth, u.ID); err != nil {
				return err
			}
			return a.print(v, v.text())
		},
	}
}
