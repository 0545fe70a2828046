package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	migrate "github.com/rubenv/sql-migrate"

	migrations "github.com/authsvc/authsvc/sql"
)

// migrationLockKey is the PostgreSQL advisory lock that lets only one
// migrator run at a time (several init containers may start together).
const migrationLockKey = 7_246_318_001

// migrationSet tolerates applied migrations this binary does not know, so
// that an older release (say, a pod restarted mid-rollout, or a rolled-back
// image) can still run `migrate up` and serve against a newer schema.
// Migrations are written expand-then-contract to keep that safe.
var migrationSet = migrate.MigrationSet{TableName: "schema_migrations", IgnoreUnknown: true}

// MigrationState is one migration and whether it has been applied.
type MigrationState struct {
	ID        string     `json:"id"`
	Applied   bool       `json:"applied"`
	AppliedAt *time.Time `json:"applied_at,omitempty"`
}

func (db *DB) migrationSource() migrate.MigrationSource {
	return &migrate.EmbedFileSystemMigrationSource{FileSystem: migrations.FS, Root: string(db.Dialect)}
}

func (db *DB) migrateDialect() string {
	if db.Dialect == SQLite {
		return "sqlite3"
	}
	return "postgres"
}

// MigrateUp applies every pending migration and returns how many it applied.
// A failing migration is named in the error.
func (db *DB) MigrateUp(ctx context.Context) (int, error) {
	return db.migrate(ctx, migrate.Up, 0)
}

// MigrateDown rolls back the last n applied migrations (n >= 1).
func (db *DB) MigrateDown(ctx context.Context, n int) (int, error) {
	if n < 1 {
		return 0, domain.Errorf(domain.EVALIDATION, "-n must be at least 1")
	}
	return db.migrate(ctx, migrate.Down, n)
}

func (db *DB) migrate(ctx context.Context, dir migrate.MigrationDirection, max int) (int, error) {
	unlock, err := db.lockMigrations(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	n, err := migrationSet.ExecMaxContext(ctx, db.pool.DB, db.migrateDialect(), db.migrationSource(), dir, max)
	if err != nil {
		var txErr *migrate.TxError
		if errors.As(err, &txErr) && txErr.Migration != nil {
			return n, fmt.Errorf("migration %s failed: %w", txErr.Migration.Id, mapError(txErr.Err))
		}
		return n, fmt.Errorf("migrate: %w", mapError(err))
	}
	return n, nil
}

// lockMigrations takes the PostgreSQL advisory lock on a connection of its
// own and returns its release. SQLite needs none: sql-migrate's transactions
// already serialize on the file's write lock.
func (db *DB) lockMigrations(ctx context.Context) (func(), error) {
	if db.Dialect != Postgres {
		return func() {}, nil
	}
	conn, err := db.pool.Conn(ctx)
	if err != nil {
		return nil, mapError(fmt.Errorf("migration lock: %w", err))
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockKey); err != nil {
		conn.Close()
		return nil, mapError(fmt.Errorf("migration lock: %w", err))
	}
	return func() {
		// Unlock even if ctx was cancelled meanwhile.
		unlockCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(unlockCtx, "SELECT pg_advisory_unlock($1)", migrationLockKey); err != nil {
			db.log.Warn().Err(err).Msg("release migration lock")
		}
		conn.Close()
	}, nil
}

// MigrationStatus lists every known migration, oldest first, with whether it
// has been applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	known, err := db.migrationSource().FindMigrations()
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	records, err := db.appliedMigrations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationState, 0, len(known))
	for _, m := range known {
		st := MigrationState{ID: m.Id}
		if at, ok := records[m.Id]; ok {
			at := at.UTC()
			st.Applied, st.AppliedAt = true, &at
		}
		out = append(out, st)
	}
	return out, nil
}

// PendingMigrations returns how many known migrations are not yet applied.
func (db *DB) PendingMigrations(ctx context.Context) (int, error) {
	states, err := db.MigrationStatus(ctx)
	if err != nil {
		return 0, err
	}
	pending := 0
	for _, s := range states {
		if !s.Applied {
			pending++
		}
	}
	return pending, nil
}

// appliedMigrations reads the migration table directly (one cheap query, as
// /readyz runs it); a missing table means nothing is applied.
func (db *DB) appliedMigrations(ctx context.Context) (map[string]time.Time, error) {
	var exists bool
	q := `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations')`
	if db.Dialect == SQLite {
		q = `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')`
	}
	if err := db.pool.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return nil, mapError(fmt.Errorf("read migration table: %w", err))
	}
	out := map[string]time.Time{}
	if !exists {
		return out, nil
	}
	rows, err := db.pool.QueryContext(ctx, `SELECT id, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, mapError(fmt.Errorf("read migration table: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var at sql.NullTime
		if err := rows.Scan(&id, &at); err != nil {
			return nil, mapError(err)
		}
		out[id] = at.Time
	}
	return out, mapError(rows.Err())
}
