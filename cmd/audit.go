package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
)

func newAuditCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "audit",
		Short:   "Read the audit trail of security events",
		Example: "  authsvc audit list --user alice --since 2026-11-01T00:00:00Z -o json",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newAuditListCommand(a))
	return c
}

func newAuditListCommand(a *app) *cobra.Command {
	var q domain.AuditQuery
	c := &cobra.Command{
		Use:   "list",
		Short: "List security events, newest first",
		Long: `List security events, newest first, as GET /admin/audit does: at most --limit
(default 50, at most 200); with more, the last line (text) or next_cursor (JSON)
gives the --cursor of the next page. --user takes a username or a numeric id
(events whose actor or target it is); --since and --until are RFC 3339 times.`,
		Example: `  authsvc audit list
  authsvc audit list --user alice --event login.failed --since 2026-11-29T00:00:00Z -o json
  authsvc audit list --cursor 1234`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := a.adminServices(cmd)
			if err != nil {
				return err
			}
			page, err := svc.auth.ListAudit(cmd.Context(), q)
			if err != nil {
				return err
			}
			var next *string
			if page.NextCursor != "" {
				next = &page.NextCursor
			}
			events := page.Events
			if events == nil {
				events = []*domain.AuditEvent{}
			}
			return a.print(map[string]any{"events": events, "next_cursor": next}, auditText(page))
		},
	}
	c.Flags().StringVar(&q.User, "user", "", "events of this username or user id")
	c.Flags().StringVar(&q.Event, "event", "", "only this event, e.g. login.failed")
	c.Flags().StringVar(&q.Since, "since", "", "events at or after this RFC 3339 time")
	c.Flags().StringVar(&q.Until, "until", "", "events before this RFC 3339 time")
	c.Flags().StringVar(&q.Cursor, "cursor", "", "the next_cursor of the previous page")
	c.Flags().IntVar(&q.Limit, "limit", 50, "events per page (1-200)")
	return c
}

// auditText is the text form of a page: one event per line.
func auditText(page *domain.AuditPage) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTIME\tEVENT\tACTOR\tTARGET\tCLIENT IP\tDETAILS")
	for _, e := range page.Events {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%v\n", e.ID, e.CreatedAt.Format(time.RFC3339), e.Event,
			idText(e.ActorID), idText(e.TargetID), e.ClientIP, e.Details)
	}
	tw.Flush()
	out := strings.TrimRight(b.String(), "\n")
	if page.NextCursor != "" {
		out += "\nmore: --cursor " + page.NextCursor
	}
	return out
}

func idText(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}
