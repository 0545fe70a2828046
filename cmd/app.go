package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/logship"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// globalFlags are the flags every command takes.
type globalFlags struct {
	configFile  string
	envFile     string
	databaseURL string
	output      string
}

// app is what a command works with: configuration, logger, database and the
// services, each built once on first use and released by Close.
type app struct {
	streams Streams
	flags   globalFlags
	root    *cobra.Command
	started bool // a command's own code ran (so a failure is not a usage error)

	cfg  *config.Config
	log  zerolog.Logger
	ship *logship.Shipper // Logstash shipping (serve with log.logstash_addr), else nil
	db   *store.DB
	// draining is set at SIGTERM: /readyz answers 503 from then on.
	draining atomic.Bool

	// clock is the one clock of the process: the store stamps rows with it,
	// the token issuer signs with it, the use cases decide with it.
	clock domain.Clock
	// build holds what Build (the tests' entry) injects; zero for commands.
	build BuildOptions
}

func newApp(streams Streams) *app {
	return &app{streams: streams, log: zerolog.Nop(), clock: time.Now}
}

// load reads the configuration (flags of cmd included) and sets up logging.
// Admin commands log warnings and errors only, to stderr; serve logs at
// log.level.
func (a *app) load(cmd *cobra.Command, flagKeys map[string]string) error {
	if a.cfg != nil {
		return nil
	}
	keys := map[string]string{"database-url": "database.url"}
	for flag, key := range flagKeys {
		keys[flag] = key
	}
	cfg, err := config.Load(config.Options{File: a.flags.configFile, EnvFile: a.flags.envFile,
		Flags: cmd.Flags(), FlagKeys: keys})
	if err != nil {
		return usageError{err}
	}
	a.cfg = cfg
	serving := cmd.Name() == "serve"
	a.log, a.ship = newLogger(cfg, a.streams.Err, serving)
	if serving {
		// Once per start: admin commands in scripts would repeat them on every call.
		for _, n := range cfg.Notices {
			a.log.Warn().Msg(n)
		}
	}
	return nil
}

// newLogger builds the one logger that is passed down: console in
// development, JSON otherwise. When serving with log.logstash_addr, every
// line also goes, as JSON, to a Logstash shipper (returned so that Close
// can flush it); the shipper reports its own connection trouble to the
// local output only.
func newLogger(cfg *config.Config, w io.Writer, serving bool) (zerolog.Logger, *logship.Shipper) {
	level, err := zerolog.ParseLevel(strings.ToLower(cfg.Log.Level))
	if err != nil {
		level = zerolog.InfoLevel
	}
	if !serving && level < zerolog.WarnLevel {
		level = zerolog.WarnLevel
	}
	out := w
	if cfg.Log.Format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !isTerminal(w),
			FieldsExclude: []string{atTimestamp}}
	}
	local := zerolog.New(out).Level(level).Hook(logstashTimestamp{}).With().Timestamp().
		Str("service", "authsvc").Logger()
	if !serving || cfg.Log.LogstashAddr == "" {
		return local, nil
	}
	ship := logship.New(logship.Options{Addr: cfg.Log.LogstashAddr, Logger: local})
	return zerolog.New(zerolog.MultiLevelWriter(out, ship)).Level(level).Hook(logstashTimestamp{}).
		With().Timestamp().Str("service", "authsvc").Logger(), ship
}

// atTimestamp is the field Logstash and Kibana key on.
const atTimestamp = "@timestamp"

// logstashTimestamp adds @timestamp (RFC 3339 in UTC with milliseconds) to
// every JSON line, beside zerolog's time.
type logstashTimestamp struct{}

// Run implements zerolog.Hook.
func (logstashTimestamp) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	e.Str(atTimestamp, zerolog.TimestampFunc().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// openDB opens the existing database and waits up to wait for it to answer.
// It never creates one: a missing SQLite file is exit code 5. Only serve and
// migrate up create the database, through openOrCreateDB.
func (a *app) openDB(ctx context.Context, wait time.Duration) (*store.DB, error) {
	return a.open(ctx, wait, false)
}

// openOrCreateDB is openDB that creates a missing SQLite database (serve,
// migrate up).
func (a *app) openOrCreateDB(ctx context.Context, wait time.Duration) (*store.DB, error) {
	return a.open(ctx, wait, true)
}

func (a *app) open(ctx context.Context, wait time.Duration, create bool) (*store.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	db, err := store.Open(a.cfg.Database.URL, store.Options{
		MaxOpenConns:         a.cfg.Database.MaxOpenConns,
		MaxIdleConns:         a.cfg.Database.MaxIdleConns,
		Logger:               a.log,
		Clock:                a.clock,
		QueryTimeout:         a.cfg.Database.QueryTimeout,
		NoPreparedStatements: !a.cfg.PreparedStatementsOn(),
		SQLiteSynchronous:    a.cfg.Database.SQLiteSynchronous,
		WrapDriver:           a.build.WrapDriver,
		MustExist:            !create,
	})
	if err == nil {
		if err = db.WaitReady(ctx, wait); err != nil {
			db.Close()
		}
	}
	if errors.Is(err, store.ErrNoDatabase) {
		return nil, &domain.Error{Code: domain.EUNAVAILABLE, Reason: domain.ReasonDatabaseMissing,
			Message: msgNoDatabase(a.cfg.Database.URL)} // the path is in the message already
	}
	if err != nil {
		return nil, err
	}
	a.db = db
	return db, nil
}

// Close releases what the app opened.
func (a *app) Close() {
	if a.db != nil {
		a.db.Close()
		a.db = nil
	}
	if a.ship != nil { // last, so that the final lines are shipped too
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.ship.Close(ctx) //nolint:errcheck // what cannot be shipped in time is dropped
		cancel()
		a.ship = nil
	}
}

// jsonOutput reports -o json.
func (a *app) jsonOutput() bool { return a.flags.output == "json" }

// print writes a result: v as one JSON document with -o json, else the text.
func (a *app) print(v any, text string) error {
	if a.jsonOutput() {
		enc := json.NewEncoder(a.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	_, err := fmt.Fprintln(a.streams.Out, text)
	return err
}

// msgNoDatabase is the error of an admin command run on a missing database.
func msgNoDatabase(raw string) string {
	if store.SQLitePath(raw) == "" { // PostgreSQL: never show the password; createdb first
		if u, err := url.Parse(raw); err == nil {
			raw = u.Redacted()
		}
		return fmt.Sprintf(domain.MsgDatabaseMissingPostgres, raw)
	}
	return fmt.Sprintf(domain.MsgDatabaseMissingSQLite, raw)
}
