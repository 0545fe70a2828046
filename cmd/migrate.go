package cmd

import (
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/store"
	"github.com/spf13/cobra"
)

func newMigrateCommand(a *app) *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply, roll back or list database migrations",
		Long: `Manage the database schema. Every subcommand first waits for the database
(--wait, with backoff and a log line per try) and exits 5 if it never answers.
On PostgreSQL an advisory lock lets only one migrator run at a time, so several
init containers may run "authsvc migrate up" together.`,
		Example: `  authsvc migrate up
  authsvc migrate up --wait 2m --database-url postgres://postgres@db/authsvc
  authsvc migrate down -n 1
  authsvc migrate status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.PersistentFlags().DurationVar(&wait, "wait", 60*time.Second, "how long to wait for the database to answer")
	c.AddCommand(newMigrateUpCommand(a, &wait), newMigrateDownCommand(a, &wait), newMigrateStatusCommand(a, &wait))
	return c
}

func newMigrateUpCommand(a *app, wait *time.Duration) *cobra.Command {
	return &cobra.Command{
		Use:     "up",
		Short:   "Apply every pending migration (a no-op when none is pending)",
		Example: "  authsvc migrate up\n  authsvc migrate up -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(cmd, nil); err != nil {
				return err
			}
			db, err := a.openOrCreateDB(cmd.Context(), *wait)
			if err != nil {
				return err
			}
			n, err := db.MigrateUp(cmd.Context())
			if err != nil {
				return err
			}
			return a.print(map[string]int{"applied": n}, fmt.Sprintf("applied %d migration(s)", n))
		},
	}
}

func newMigrateDownCommand(a *app, wait *time.Duration) *cobra.Command {
	var n int
	c := &cobra.Command{
		Use:     "down",
		Short:   "Roll back the last N applied migrations (default 1)",
		Example: "  authsvc migrate down\n  authsvc migrate down -n 2",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 1 {
				return usagef("-n must be at least 1")
			}
			db, err := a.migrationDB(cmd, *wait)
			if err != nil {
				return err
			}
			done, err := db.MigrateDown(cmd.Context(), n)
			if err != nil {
				return err
			}
			return a.print(map[string]int{"rolled_back": done}, fmt.Sprintf("rolled back %d migration(s)", done))
		},
	}
	c.Flags().IntVarP(&n, "steps", "n", 1, "how many migrations to roll back")
	return c
}

func newMigrateStatusCommand(a *app, wait *time.Duration) *cobra.Command {
	return &cobra.Command{
		Use:     "status",
		Short:   "List the migrations and whether each is applied",
		Example: "  authsvc migrate status\n  authsvc migrate status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := a.migrationDB(cmd, *wait)
			if err != nil {
				return err
			}
			states, err := db.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			var b strings.Builder
			for i, s := range states {
				if i > 0 {
					b.WriteString("\n")
				}
				at := "pending"
				if s.Applied {
					at = "applied " + s.AppliedAt.Format(time.RFC3339)
				}
				fmt.Fprintf(&b, "%-28s %s", s.ID, at)
			}
			return a.print(states, b.String())
		},
	}
}

// migrationDB loads the configuration and opens the existing database,
// waiting for it up to wait; the migrations themselves are not touched. It
// never creates a database (migrate up does, with openOrCreateDB).
func (a *app) migrationDB(cmd *cobra.Command, wait time.Duration) (*store.DB, error) {
	if err := a.load(cmd, nil); err != nil {
		return nil, err
	}
	return a.openDB(cmd.Context(), wait)
}
