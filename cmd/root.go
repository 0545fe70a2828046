// Package cmd is authsvc's command line and its composition root: the one
// place where configuration, the database and the services are wired
// together, for `serve` and for every admin command alike.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/spf13/cobra"
)

// Exit codes (docs/cli.md).
const (
	ExitOK          = 0
	ExitError       = 1
	ExitUsage       = 2
	ExitNotFound    = 3
	ExitConflict    = 4
	ExitUnavailable = 5
	// ExitInterrupted is 128 + SIGINT, as shells report a command stopped by Ctrl-C.
	ExitInterrupted = 130
)

// exitCodesHelp documents the exit codes in `authsvc --help`.
const exitCodesHelp = `Exit codes:
  0    success
  1    error
  2    usage: bad flag, argument, amount or password
  3    not found
  4    conflict: user exists, idempotency clash
  5    database unreachable or missing (admin commands never create one)
  130  interrupted (SIGINT or SIGTERM) before the command finished`

// Streams are the command's standard input, output and error.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// usageError marks a bad flag, argument or value (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// Execute runs the command line and returns the process exit code.
func Execute(ctx context.Context, args []string, streams Streams) int {
	a := newApp(streams)
	defer a.Close()
	root := newRootCommand(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil { // SIGINT or SIGTERM stopped the command, not a fault of its own
		fmt.Fprintln(streams.Err, "error: interrupted")
		return ExitInterrupted
	}
	code := exitCode(err)
	if !a.started && code == ExitError {
		code = ExitUsage // cobra rejected the command line before any RunE ran
	}
	fmt.Fprintln(streams.Err, "error: "+oneLine(errorText(err)))
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return ExitUsage
	}
	switch domain.ErrorCode(err) {
	case domain.EVALIDATION, domain.EINVALID:
		return ExitUsage
	case domain.ENOTFOUND:
		return ExitNotFound
	case domain.ECONFLICT:
		return ExitConflict
	case domain.EUNAVAILABLE:
		return ExitUnavailable
	}
	return ExitError
}

// errorText is the message shown for err: validation errors list each field.
func errorText(err error) string {
	var de *domain.Error
	if errors.As(err, &de) && len(de.Fields) > 0 {
		parts := make([]string, len(de.Fields))
		for i, f := range de.Fields {
			loc := f.Loc
			if len(loc) > 1 {
				loc = loc[1:] // drop "body"/"query": meaningless on a command line
			}
			parts[i] = strings.Join(loc, ".") + ": " + f.Msg
		}
		return strings.Join(parts, "; ")
	}
	if de != nil && de.Message != "" && de.Code != domain.EINTERNAL && de.Code != domain.EUNAVAILABLE {
		return de.Message // the cause is for logs; the user needs the message
	}
	return err.Error()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "authsvc",
		Short: "Authentication service and its admin command line",
		Long: `authsvc is an authentication service (registration, login with bcrypt and JWT,
password reset by email, a per-user credit ledger) and the admin command line for it.

It reads configuration from flags, the environment (AUTHSVC_<SECTION>_<KEY> or the
original service's names such as DATABASE_URL), a YAML file and built-in defaults.
A .env file in the working directory (or --env-file FILE) is read as environment
variables; the real environment wins over it.
With no configuration it serves on :8080 with an embedded SQLite database.

` + exitCodesHelp,
		Example: `  authsvc serve
  authsvc migrate up --database-url postgres://postgres@localhost/authsvc?sslmode=disable
  authsvc user create alice --email alice@example.com --password-stdin < pw.txt
  authsvc credits grant alice 10.50 -o json`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.started = true
			if a.flags.output != "text" && a.flags.output != "json" {
				return usagef("--output must be text or json, not %q", a.flags.output)
			}
			return nil
		},
	}
	root.SetIn(a.streams.In)
	root.SetOut(a.streams.Out)
	root.SetErr(a.streams.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.configFile, "config", "", "configuration file (default ./config.yaml, then /etc/authsvc/config.yaml)")
	pf.StringVar(&a.flags.envFile, "env-file", "", "dotenv file read as environment variables; the real environment wins (default ./.env when present)")
	pf.StringVar(&a.flags.databaseURL, "database-url", "", "database URL: postgres://... or sqlite:PATH (overrides database.url)")
	pf.StringVarP(&a.flags.output, "output", "o", "text", "output format: text or json")
	a.root = root

	root.AddCommand(
		newServeCommand(a),
		newMigrateCommand(a),
		newUserCommand(a),
		newCreditsCommand(a),
		newTokenCommand(a),
		newMailCommand(a),
		newKeysCommand(a),
		newAuditCommand(a),
		newAPIKeyCommand(a),
		newClientCommand(a),
		newVersionCommand(a),
	)
	addCompletionExamples(root)
	return root
}

// addCompletionExamples gives cobra's generated `completion` commands the
// Example section every command has.
func addCompletionExamples(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = "  source <(authsvc completion bash)\n  authsvc completion zsh > \"${fpath[1]}/_authsvc\"\n  authsvc completion fish > ~/.config/fish/completions/authsvc.fish"
		for _, sub := range c.Commands() {
			sub.Example = "  authsvc completion " + sub.Name() + " > authsvc." + sub.Name()
		}
	}
}
