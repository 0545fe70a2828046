package cmd

import (
	"errors"
	"fmt"
	netmail "net/mail"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/mail"
	"github.com/spf13/cobra"
)

func newMailCommand(a *app) *cobra.Command {
	c := &cobra.Command{
		Use:     "mail",
		Short:   "Check the mail settings",
		Example: "  authsvc mail test you@example.com",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(newMailTestCommand(a))
	return c
}

func newMailTestCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "test ADDRESS",
		Short: "Send a test message through the configured SMTP server",
		Long: `Check the SMTP server step by step (connect, EHLO, STARTTLS when required,
AUTH when mail.username is set, MAIL FROM), then send a short test message to
ADDRESS. On failure the one-line error names the step that failed and what to
change, and the exit code is 1. With mail.driver log nothing can be sent: that
is an error too. No database is needed.`,
		Example: `  authsvc mail test you@example.com
  MAIL_SERVER=localhost MAIL_PORT=1025 MAIL_STARTTLS=False authsvc mail test you@example.com
  authsvc mail test you@example.com --env-file prod.env`,
		Args: exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.load(cmd, nil); err != nil {
				return err
			}
			to, err := netmail.ParseAddress(args[0])
			if err != nil || to.Name != "" {
				return usagef("%q is not an email address", args[0])
			}
			cfg := a.mailConfig()
			if cfg.Driver != mail.DriverSMTP {
				return errors.New(domain.MsgMailDriverLog)
			}
			line, err := mail.Probe(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			sender, err := mail.NewSender(cfg, a.log)
			if err != nil {
				return err
			}
			msg := &mail.Message{To: to.Address, Subject: "authsvc test message",
				Text: "This is a test message from authsvc (authsvc mail test). Mail works.\n",
				HTML: "<p>This is a test message from authsvc (<code>authsvc mail test</code>). Mail works.</p>\n"}
			if err := sender.Send(cmd.Context(), msg); err != nil {
				return fmt.Errorf("mail: the server passed the check but refused the message to %s: %w", to.Address, err)
			}
			return a.print(map[string]string{"sent_to": to.Address, "check": line},
				line+"\nsent a test message to "+to.Address)
		},
	}
}
