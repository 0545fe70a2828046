package cmd

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
)

func newCreditsHoldsCommand(a *app) *cobra.Command {
	var status string
	var limit int
	var after int64
	c := &cobra.Command{
		Use:   "holds USERNAME",
		Short: "List a user's credit holds, newest first",
		Long: `List the user's credit holds (reservations made with POST /credits/holds), newest
first: all of them, or those in one --status (pending, captured, voided, expired).
--limit bounds the page (1-200, default 50); --after ID continues below that hold id.
With -o json the result is {holds, next_after}, as GET /credits/holds answers.
An unknown user exits 3, a bad flag value 2.`,
		Example: `  authsvc credits holds alice
  authsvc credits holds alice --status pending -o json
  authsvc credits holds alice --limit 20 --after 1234`,
		Args: exactArgs(1, "one USERNAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			page, err := svc.holds.HoldsByUsername(cmd.Context(), args[0],
				domain.HoldListRequest{Status: status, After: after, Limit: limit})
			if err != nil {
				return err
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tAMOUNT\tCAPTURED\tEXPIRES\tREFERENCE")
			for _, h := range page.Holds {
				captured, ref := "-", "-"
				if h.CapturedAmount != nil {
					captured = h.CapturedAmount.String()
				}
				if h.ReferenceID != nil {
					ref = *h.ReferenceID
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Status, h.Amount, captured, h.ExpiresAt.Format(time.RFC3339), ref)
			}
			tw.Flush()
			text := strings.TrimRight(b.String(), "\n")
			if page.NextAfter != nil {
				text += "\n(more: --after " + strconv.FormatInt(*page.NextAfter, 10) + ")"
			}
			return a.print(page, text)
		},
	}
	c.Flags().StringVar(&status, "status", "", "only holds in this state: pending, captured, voided or expired")
	c.Flags().IntVar(&limit, "limit", domain.DefaultHoldLimit, "at most this many holds (1-200)")
	c.Flags().Int64Var(&after, "after", 0, "only holds with an id below this one (the previous page's next_after)")
	return c
}

func newCreditsVoidCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "void HOLD_ID",
		Short: "Release a credit hold",
		Long: `Release any user's pending hold, exactly as POST /credits/holds/{id}/void by an
admin: its amount is available again and nothing is charged. A hold already voided
or expired is shown unchanged (exit 0); a captured hold exits 4, an unknown hold 3,
an id that is not a positive integer 2.`,
		Example: "  authsvc credits void 1234\n  authsvc credits void 1234 -o json",
		Args:    exactArgs(1, "one HOLD_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usagef("HOLD_ID must be a positive integer, not %q", args[0])
			}
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			h, err := svc.holds.VoidHoldByID(cmd.Context(), id)
			if err != nil {
				return err
			}
			return a.print(h, fmt.Sprintf("hold %d %s: %s released to user %d", h.ID, h.Status, h.Amount, h.UserID))
		},
	}
}
