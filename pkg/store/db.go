// Package store keeps authsvc's data in PostgreSQL (lib/pq) or in an embedded
// SQLite file (modernc.org/sqlite, pure Go) through sqlx. It owns the
// migrations, the transaction helper and the mapping of driver errors to
// domain error codes. Queries are written once with `?` placeholders and
// rebound for the dialect.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // PostgreSQL driver
	"github.com/rs/zerolog"
	_ "modernc.org/sqlite" // SQLite driver, pure Go
)

// Dialect names the database engine behind a DB.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

func init() {
	// sqlx does not know modernc's driver name; it takes `?` placeholders.
	sqlx.BindDriver("sqlite", sqlx.QUESTION)
}

// Options tune the connection pool.
type Options struct {
	MaxOpenConns int // 0 keeps the driver default
	MaxIdleConns int
	Logger       zerolog.Logger
	// MustExist refuses to create a database: a missing SQLite file (or
	// folder) is ErrNoDatabase instead of a new, empty database.
	MustExist bool
}

// ErrNoDatabase is returned by Open with Options.MustExist when the SQLite
// file does not exist, and by WaitReady when the PostgreSQL server has no
// database of that name.
var ErrNoDatabase = errors.New("database does not exist")

// DB is a connection pool to one authsvc database. It implements the storage
// interfaces of package authsvc.
type DB struct {
	*sqlx.DB
	Dialect Dialect
	// writeSlot serializes write transactions on SQLite so that concurrent
	// requests queue in Go instead of failing with SQLITE_BUSY. Nil on PostgreSQL.
	writeSlot chan struct{}
	log       zerolog.Logger
	now       func() time.Time
	stmts     sync.Map // query → *sqlx.Stmt, see prepared
}

// ParseURL splits a database URL into its dialect and the driver's DSN.
// Accepted: postgres://, postgresql:// (also the original's
// postgresql+asyncpg://) and sqlite:PATH.
func ParseURL(raw string) (Dialect, string, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return "", "", fmt.Errorf("database.url: %q is not a URL (use postgres://... or sqlite:PATH)", raw)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg2":
		dsn := "postgres:" + rest
		u, err := url.Parse(dsn)
		if err != nil {
			// Never echo the URL: it may hold a password.
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err
			}
			return "", "", fmt.Errorf("database.url: malformed PostgreSQL URL: %v", err)
		}
		q := u.Query()
		if !q.Has("binary_parameters") {
			// One round trip per parameterised query instead of two.
			q.Set("binary_parameters", "yes")
		}
		u.RawQuery = q.Encode()
		return Postgres, u.String(), nil
	case "sqlite", "sqlite3":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", "", errors.New(`database.url: sqlite needs a path (e.g. "sqlite:authsvc.db")`)
		}
		return SQLite, sqliteDSN(path), nil
	default:
		return "", "", fmt.Errorf("database.url: unsupported scheme %q (use postgres:// or sqlite:)", scheme)
	}
}

// SQLitePath returns the file path of a sqlite: URL, or "" for other URLs and
// in-memory databases.
func SQLitePath(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || (scheme != "sqlite" && scheme != "sqlite3") {
		return ""
	}
	path := strings.TrimPrefix(rest, "//")
	path, _, _ = strings.Cut(path, "?")
	if path == ":memory:" {
		return ""
	}
	return strings.TrimPrefix(path, "file:")
}

func sqliteDSN(path string) string {
	params := url.Values{}
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous(NORMAL)")
	params.Set("_txlock", "immediate")
	params.Set("_time_format", "sqlite")
	if path == ":memory:" {
		// A private in-memory database shared by the pool's connections.
		return fmt.Sprintf("file:mem%d?mode=memory&cache=shared&%s", time.Now().UnixNano(), params.Encode())
	}
	path, query, _ := strings.Cut(path, "?")
	// The path is part of a file: URI: escape what would end it early.
	path = strings.NewReplacer("%", "%25", "#", "%23").Replace(path)
	if query != "" {
		return "file:" + path + "?" + query + "&" + params.Encode()
	}
	return "file:" + path + "?" + params.Encode()
}

// Open opens a pool for a database URL. It does not wait for the server; see
// WaitReady. The SQLite file's directory is created if missing, unless
// opts.MustExist is set.
func Open(rawURL string, opts Options) (*DB, error) {
	dialect, dsn, err := ParseURL(rawURL)
	if err != nil {
		return nil, authsvc.NewError(authsvc.EVALIDATION, "invalid_database_url", err.Error())
	}
	driver := "postgres"
	if dialect == SQLite {
		driver = "sqlite"
		if p := SQLitePath(rawURL); p != "" && opts.MustExist {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrNoDatabase, p, err)
			}
		} else if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
	}
	sqlxDB, err := sqlx.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := &DB{DB: sqlxDB, Dialect: dialect, log: opts.Logger, now: time.Now}
	if opts.MaxOpenConns > 0 {
		db.SetMaxOpenConns(opts.MaxOpenConns)
	}
	if opts.MaxIdleConns > 0 {
		db.SetMaxIdleConns(opts.MaxIdleConns)
	}
	db.SetConnMaxIdleTime(5 * time.Minute)
	if dialect == SQLite {
		db.writeSlot = make(chan struct{}, 1)
	}
	return db, nil
}

// SetClock replaces the clock the store stamps rows with (tests only).
func (db *DB) SetClock(now func() time.Time) { db.now = now }

// Now returns the store's current time in UTC, truncated to microseconds
// (PostgreSQL's precision) so that a value written and read back compares equal.
func (db *DB) Now() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// WaitReady pings the database until it answers, backing off between tries
// and logging each failure, for at most wait. It returns an EUNAVAILABLE
// error if the database never answers.
func (db *DB) WaitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := db.PingContext(pingCtx)
		cancel()
		if err == nil {
			return nil
		}
		if pqErr := (*pq.Error)(nil); errors.As(err, &pqErr) && pqErr.Code == "3D000" {
			return fmt.Errorf("%w: %w", ErrNoDatabase, err) // waiting will not create it
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			return &authsvc.Error{Code: authsvc.EUNAVAILABLE, Reason: "database_unavailable",
				Message: fmt.Sprintf("database unreachable after %s", wait), Err: err} // Error() adds the cause once
		}
		db.log.Warn().Int("attempt", attempt).Err(err).Dur("retry_in", backoff).Msg("database not ready")
		sleep := min(backoff, remaining)
		select {
		case <-ctx.Done():
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back
// otherwise. On SQLite, write transactions are serialized. Errors are mapped
// to domain codes.
func (db *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if db.writeSlot != nil {
		select {
		case db.writeSlot <- struct{}{}:
			defer func() { <-db.writeSlot }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return mapError(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return mapError(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// prepared returns a statement for query, prepared once and reused: the hot
// paths skip the server's parse and plan on every call. database/sql
// prepares it on each pooled connection the first time it runs there, and a
// transaction reuses the one of its connection (see txQueryRow). Call it
// before beginning a transaction, never inside one.
func (db *DB) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := db.PreparexContext(ctx, db.Rebind(query))
	if err != nil {
		return nil, mapError(fmt.Errorf("prepare: %w", err))
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// txQueryRow runs query inside tx, as a prepared statement when one was
// prepared beforehand (see prepared), else ad hoc. It never prepares: that
// would need a second pooled connection while tx holds one, and a pool full
// of such transactions would wait on itself forever.
func (db *DB) txQueryRow(ctx context.Context, tx *sqlx.Tx, query string, args ...any) *sqlx.Row {
	if st, ok := db.stmts.Load(query); ok {
		return tx.StmtxContext(ctx, st.(*sqlx.Stmt)).QueryRowxContext(ctx, args...)
	}
	return tx.QueryRowxContext(ctx, tx.Rebind(query), args...)
}

// Close closes the prepared statements and the pool.
func (db *DB) Close() error {
	db.stmts.Range(func(_, st any) bool {
		st.(*sqlx.Stmt).Close()
		return true
	})
	return db.DB.Close()
}
