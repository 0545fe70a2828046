package cmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/authsvc/authsvc/pkg/userimport"
	"github.com/spf13/cobra"
)

// importSkipView is a skipped row in -o json output.
type importSkipView struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

func newUserImportCommand(a *app) *cobra.Command {
	var cont, creditExisting bool
	c := &cobra.Command{
		Use:   "import FILE",
		Short: "Import users with their bcrypt hashes and balances (JSON lines or CSV; - for stdin)",
		Long: `Import users from another system, typically the original auth_service: FILE
holds JSON lines (one object per line) or CSV with a header line, "-" reads
standard input. Columns: username, email, hashed_password (or password_hash),
is_admin, created_at, balance (or credit_balance), email_verified (default
false); others (id, updated_at…) are ignored.

Users keep their passwords: the bcrypt hash ($2a$, $2b$ or $2y$, as passlib
writes it) is stored as it is; a login rehashes it when its cost differs
from auth.bcrypt_cost. A balance arrives as one credit_added
transaction with reference_id "import", so running the same import again
changes nothing: users it created are left as they are (even after a login
rehashed their password), and no balance is added twice.

An account that already exists with the same username and email but another
password (someone may have registered the name on authsvc before the
cutover) is a conflict: it gets neither the imported hash nor the balance.
When you know such accounts are their owners' (they registered again
themselves), --credit-existing credits their balances and keeps their
passwords.

Everything is one transaction: a bad row (reported with its line number), or
a row whose username or email belongs to another existing user, imports
nothing (exit 2, or 4 for a conflict). With --continue such rows are skipped
and listed, and the rest is imported (exit 0).`,
		Example: `  psql "$OLD_DATABASE_URL" -c "\copy (SELECT u.username, u.email, u.hashed_password, u.is_admin, u.created_at, c.balance FROM users u LEFT JOIN user_credits c ON c.user_id = u.id) TO 'users.csv' WITH (FORMAT csv, HEADER)"
  authsvc user import users.csv
  authsvc user import --continue users.jsonl -o json
  gunzip -c users.csv.gz | authsvc user import -`,
		Args: exactArgs(1, "one FILE (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := a.streams.In
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usagef("%v", err)
				}
				defer f.Close()
				in = f
			}
			db, err := a.adminDB(cmd)
			if err != nil {
				return err
			}
			rep, err := userimport.Import(cmd.Context(), db, in, userimport.Options{Continue: cont, CreditExisting: creditExisting})
			if err != nil {
				return err
			}
			skipped := make([]importSkipView, len(rep.Skipped))
			var text strings.Builder
			fmt.Fprintf(&text, "created %d, unchanged %d, balances added %d, skipped %d",
				rep.Created, rep.Unchanged, rep.Credited, len(rep.Skipped))
			for i, s := range rep.Skipped {
				skipped[i] = importSkipView{Line: s.Line, Error: s.Err.Error()}
				fmt.Fprintf(&text, "\nskipped line %d: %v", s.Line, s.Err)
			}
			return a.print(map[string]any{"created": rep.Created, "unchanged": rep.Unchanged,
				"credited": rep.Credited, "skipped": skipped}, text.String())
		},
	}
	c.Flags().BoolVar(&cont, "continue", false, "skip bad or conflicting rows and report them, instead of importing nothing")
	c.Flags().BoolVar(&creditExisting, "credit-existing", false,
		"credit the balance of an existing account with the same username and email but another password (its password stays)")
	return c
}
