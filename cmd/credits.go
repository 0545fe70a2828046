package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newCreditsCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "credits",
		Short:   "Grant credits, read balances, list and void holds",
		Example: "  authsvc credits grant alice 10.50 --reference order-42\n  authsvc credits balance alice -o json\n  authsvc credits holds alice --status pending\n  authsvc credits void 1234",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newCreditsGrantCommand(a), newCreditsBalanceCommand(a), newCreditsHoldsCommand(a), newCreditsVoidCommand(a))
	return c
}

func newCreditsGrantCommand(a *app) *cobra.Command {
	var reference, description string
	c := &cobra.Command{
		Use:   "grant USERNAME AMOUNT",
		Short: "Add credits to a user's balance",
		Long: `Add AMOUNT (a decimal with at most 2 places, > 0 and <= 1000000000.00) to the
user's balance, exactly as POST /credits/add by an admin. With --reference the grant
is idempotent: repeating it changes nothing; the same reference with another
amount exits 4. A bad amount exits 2, an unknown user 3.`,
		Example: `  authsvc credits grant alice 10.50
  authsvc credits grant alice 100 --reference invoice-2024-001 --description "Invoice 2024-001" -o json`,
		Args: exactArgs(2, "USERNAME and AMOUNT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			tx, err := svc.credits.Grant(cmd.Context(), args[0], args[1], reference, description)
			if err != nil {
				return err
			}
			tx.CreatedAt = tx.CreatedAt.UTC()
			return a.print(tx, fmt.Sprintf("granted %s to %s: balance %s (transaction %d)", tx.Amount, args[0], tx.NewBalance, tx.ID))
		},
	}
	c.Flags().StringVar(&reference, "reference", "", "idempotency key (reference_id)")
	c.Flags().StringVar(&description, "description", "", "description stored with the transaction")
	return c
}

func newCreditsBalanceCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "balance USERNAME",
		Short:   "Show a user's balance",
		Example: "  authsvc credits balance alice\n  authsvc credits balance alice -o json",
		Args:    exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			b, err := svc.credits.BalanceByUsername(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			b.UpdatedAt = b.UpdatedAt.UTC()
			text := fmt.Sprintf("%s: %s", args[0], b.Balance)
			if b.Held != 0 {
				text += fmt.Sprintf(" (held %s, available %s)", b.Held, b.Available)
			}
			return a.print(b, text)
		},
	}
}
