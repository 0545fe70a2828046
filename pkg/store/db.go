// Package store keeps authsvc's data in PostgreSQL (lib/pq) or in an embedded
// SQLite file (modernc.org/sqlite, pure Go) through sqlx. It owns the
// migrations, the transaction helper and the mapping of driver errors to
// domain error codes. Queries are written once with `?` placeholders and
// rebound for the dialect.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/dburl"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq" // PostgreSQL driver
	"github.com/rs/zerolog"
	"modernc.org/sqlite" // SQLite driver, pure Go
)

// Dialect names the database engine behind a DB.
type Dialect = dburl.Dialect

// The supported dialects.
const (
	Postgres = dburl.Postgres
	SQLite   = dburl.SQLite
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
	Clock        domain.Clock // stamps rows; nil means time.Now
	// WrapDriver, when set, wraps the database driver; tests count the
	// statements a request runs with it. (PostgreSQL connections opened
	// this way skip the frozen-server guard of conn.go.)
	WrapDriver func(driver.Driver) driver.Driver
	// QueryTimeout bounds every store call (its pool wait, queries and
	// commit), even against a frozen server; 0 means no bound beyond the
	// caller's context.
	QueryTimeout time.Duration
	// NoPreparedStatements runs every query as an unnamed statement (one
	// round trip with binary_parameters), for transaction poolers such as
	// PgBouncer that cannot keep named statements across transactions.
	NoPreparedStatements bool
	// SQLiteSynchronous is SQLite's synchronous pragma: "FULL" (the default:
	// a commit is on disk when acknowledged), "EXTRA" or "NORMAL" (faster;
	// the last commits can roll back after an OS crash or power loss).
	SQLiteSynchronous string
	// MustExist refuses to create a database: a missing SQLite file (or
	// folder) is ErrNoDatabase instead of a new, empty database.
	MustExist bool
}

// ErrNoDatabase is returned by Open with Options.MustExist when the SQLite
// file does not exist, and by WaitReady when the PostgreSQL server has no
// database of that name.
var ErrNoDatabase = errors.New("database does not exist")

// SQLite synchronous settings accepted by Options.SQLiteSynchronous.
var sqliteSynchronous = map[string]bool{"FULL": true, "EXTRA": true, "NORMAL": true}

// connector opens connections of drv to dsn (for Options.WrapDriver).
type connector struct {
	dsn string
	drv driver.Driver
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }

// DB is a connection pool to one authsvc database. It implements the storage
// interfaces of package authsvc.
type DB struct {
	pool    *sqlx.DB // never handed out: see Ping, Stats and the authsvc ports
	Dialect Dialect
	// writeSlot serializes write transactions on SQLite so that concurrent
	// requests queue in Go instead of failing with SQLITE_BUSY. Nil on PostgreSQL.
	writeSlot chan struct{}
	log       zerolog.Logger
	now       func() time.Time
	stmts     sync.Map // query → *sqlx.Stmt, see prepared
	// noPrepare disables named prepared statements (see Options).
	noPrepare    bool
	queryTimeout time.Duration
}

// ParseURL splits a database URL into its dialect and the driver's DSN; see
// dburl.Parse.
func ParseURL(raw string) (Dialect, string, error) { return dburl.Parse(raw) }

// SQLitePath returns the file path of a sqlite: URL, or "" for other URLs and
// in-memory databases; see dburl.SQLitePath.
func SQLitePath(raw string) string { return dburl.SQLitePath(raw) }

// Open opens a pool for a database URL. It does not wait for the server; see
// WaitReady. The SQLite file's directory is created if missing, unless
// opts.MustExist is set.
func Open(rawURL string, opts Options) (*DB, error) {
	dialect, dsn, err := ParseURL(rawURL)
	if err != nil {
		return nil, domain.NewError(domain.EVALIDATION, "invalid_database_url", err.Error())
	}
	var sqlxDB *sqlx.DB
	if dialect == SQLite {
		sync := strings.ToUpper(opts.SQLiteSynchronous)
		if sync == "" {
			sync = "FULL"
		}
		if !sqliteSynchronous[sync] {
			return nil, domain.NewError(domain.EVALIDATION, "invalid_database_setting",
				fmt.Sprintf("database.sqlite_synchronous: %q is not one of FULL, EXTRA, NORMAL", opts.SQLiteSynchronous))
		}
		_, dsn, _ = dburl.ParseSQLite(rawURL, sync)
		if p := SQLitePath(rawURL); p != "" && opts.MustExist {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrNoDatabase, p, err)
			}
		} else if p != "" {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil { //nolint:gosec // the database file itself is created 0600 (createPrivate)
				return nil, fmt.Errorf("create database directory: %w", err)
			}
			if err := createPrivate(p); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case opts.WrapDriver != nil:
		var base driver.Driver = &pq.Driver{}
		driverName := "postgres"
		if dialect == SQLite {
			base, driverName = &sqlite.Driver{}, "sqlite"
		}
		sqlxDB = sqlx.NewDb(sql.OpenDB(connector{dsn: dsn, drv: opts.WrapDriver(base)}), driverName)
	case dialect == SQLite:
		sqlxDB, err = sqlx.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	default:
		connector, err := newGuardConnector(dsn)
		if err != nil {
			// lib/pq's message may quote the DSN: keep it out.
			return nil, domain.NewError(domain.EVALIDATION, "invalid_database_url", "database.url: invalid PostgreSQL connection settings")
		}
		sqlxDB = sqlx.NewDb(sql.OpenDB(connector), "postgres")
	}
	db := &DB{pool: sqlxDB, Dialect: dialect, log: opts.Logger, now: time.Now,
		noPrepare: opts.NoPreparedStatements, queryTimeout: opts.QueryTimeout}
	if opts.Clock != nil {
		db.now = opts.Clock
	}
	if opts.MaxOpenConns > 0 {
		db.pool.SetMaxOpenConns(opts.MaxOpenConns)
	}
	if opts.MaxIdleConns > 0 {
		db.pool.SetMaxIdleConns(opts.MaxIdleConns)
	}
	db.pool.SetConnMaxIdleTime(5 * time.Minute)
	if dialect == SQLite {
		db.writeSlot = make(chan struct{}, 1)
	}
	return db, nil
}

// createPrivate creates the SQLite file at path with mode 0600 when it does
// not exist yet. SQLite gives the -wal and -shm files it creates later the
// mode of the database file, so they are 0600 too. An existing file keeps its
// mode (an operator may have chosen it).
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the path is the operator's database.url
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// Ping checks that the database answers (the readiness probe).
func (db *DB) Ping(ctx context.Context) error { return mapError(db.pool.PingContext(ctx)) }

// Stats returns the connection pool's statistics (for metrics).
func (db *DB) Stats() sql.DBStats { return db.pool.Stats() }

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
		err := db.pool.PingContext(pingCtx)
		cancel()
		if err == nil {
			return nil
		}
		if pqErr := (*pq.Error)(nil); errors.As(err, &pqErr) && pqErr.Code == "3D000" {
			return fmt.Errorf("%w: %w", ErrNoDatabase, err) // waiting will not create it
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			return domain.ErrUnavailable.With(fmt.Errorf("database unreachable after %s: %w", wait, err))
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
// otherwise. The audit events attached to ctx (domain.WithAudit) are
// written in the same transaction, after fn, so that a change and its record
// commit or roll back together. On SQLite, write transactions are
// serialized. The whole transaction (pool wait included) runs under the
// query timeout. Errors are mapped to domain codes.
func (db *DB) InTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	parent := ctx
	ctx, cancel := db.bound(ctx)
	defer cancel()
	return db.timedOut(parent, ctx, db.inTx(ctx, fn))
}

func (db *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	if db.writeSlot != nil {
		select {
		case db.writeSlot <- struct{}{}:
			defer func() { <-db.writeSlot }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	tx, err := db.pool.BeginTxx(ctx, nil)
	if err != nil {
		return mapError(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return mapError(err)
	}
	audit, err := db.writePendingAudit(ctx, tx)
	if err != nil {
		return mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return mapError(fmt.Errorf("commit: %w", err))
	}
	if audit != nil {
		audit.MarkWritten()
	}
	return nil
}

// bound puts the query timeout on ctx (the earlier deadline wins).
func (db *DB) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.queryTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.queryTimeout)
}

// timedOut turns err into EUNAVAILABLE when the store's own deadline (not
// the caller's context) ended the call: the database did not answer in time.
func (db *DB) timedOut(parent, bounded context.Context, err error) error {
	if err == nil || parent.Err() != nil || bounded.Err() == nil {
		return err
	}
	return domain.ErrUnavailable.With(fmt.Errorf("no answer within %s: %w", db.queryTimeout, err))
}

// start bounds a store call made outside InTx by the query timeout. Use
// it as
//
//	ctx, done := db.start(ctx)
//	defer func() { err = done(err) }()
//
// done releases the timer and reports a timeout as EUNAVAILABLE.
func (db *DB) start(ctx context.Context) (context.Context, func(error) error) {
	parent := ctx
	bounded, cancel := db.bound(ctx)
	return bounded, func(err error) error {
		err = db.timedOut(parent, bounded, err)
		cancel()
		return err
	}
}

// prepared returns a statement for query, prepared once and reused: the hot
// paths skip the server's parse and plan on every call. database/sql
// prepares it on each pooled connection the first time it runs there, and a
// transaction reuses the one of its connection (see txQueryRow). Call it
// before beginning a transaction, never inside one.
//
// With prepared statements disabled (Options.NoPreparedStatements) it
// returns nil, nil: callers then run the query ad hoc.
func (db *DB) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if db.noPrepare {
		return nil, nil
	}
	if st, ok := db.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := db.pool.PreparexContext(ctx, db.pool.Rebind(query))
	if err != nil {
		return nil, mapError(fmt.Errorf("prepare: %w", err))
	}
	if prev, loaded := db.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// queryRow runs a one-row query outside a transaction, as a prepared
// statement unless they are off (or preparing failed: the query then runs
// ad hoc and reports the failure itself).
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sqlx.Row {
	st, err := db.prepared(ctx, query)
	if err != nil || st == nil {
		return db.pool.QueryRowxContext(ctx, db.pool.Rebind(query), args...)
	}
	return st.QueryRowxContext(ctx, args...)
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
	return db.pool.Close()
}

// ReadOnly reports whether the database refuses writes in a new
// transaction: on PostgreSQL a standby in recovery or
// default_transaction_read_only=on (one cheap `SHOW`); SQLite is never
// read-only here. /readyz runs it.
func (db *DB) ReadOnly(ctx context.Context) (bool, error) {
	if db.Dialect != Postgres {
		return false, nil
	}
	var setting string
	if err := db.pool.QueryRowContext(ctx, `SHOW transaction_read_only`).Scan(&setting); err != nil {
		return false, mapError(fmt.Errorf("read transaction_read_only: %w", err))
	}
	return setting == "on", nil
}

// The ports DB implements.
var (
	_ domain.AuthStore   = (*DB)(nil)
	_ domain.CreditStore = (*DB)(nil)
	_ domain.Outbox      = (*DB)(nil)
)
