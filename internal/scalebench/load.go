// Package scalebench measures how authsvc's request latency grows with the
// data: the same requests against a small and a 100× larger PostgreSQL
// database, through a real `authsvc serve` process. The loader fills a
// database in minutes with server-side INSERT … SELECT generate_series.
//
// It is opt-in (AUTHSVC_BENCH_SCALE=1, see `make bench-scale`) because the
// large database takes minutes to load and a few GB of disk; the databases
// are kept between runs and reused (`make bench-scale-clean` drops them).
package scalebench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Size is one data set: Users accounts and LedgerRows credit transactions, of
// which HeavyRows belong to the first user (the long history).
type Size struct {
	Name       string
	Users      int
	LedgerRows int
	HeavyRows  int
}

// The two sizes the growth table compares (docs/performance.md).
var (
	Small = Size{Name: "10k", Users: 10_000, LedgerRows: 100_000, HeavyRows: 10_000}
	Large = Size{Name: "1M", Users: 1_000_000, LedgerRows: 10_000_000, HeavyRows: 100_000}
)

// Password is every loaded user's password; its bcrypt hash is computed once
// at Cost and shared by all rows.
const (
	Password = "scale benchmark password"
	Cost     = 10
)

// marker is written as the database's comment once loading has finished, so
// that an interrupted load is redone and a finished one is reused.
func (s Size) marker() string {
	return fmt.Sprintf("authsvc scalebench v1: %d users, %d rows, heavy %d", s.Users, s.LedgerRows, s.HeavyRows)
}

// Loaded reports whether db already holds this size's data.
func (s Size) Loaded(ctx context.Context, db *sql.DB) (bool, error) {
	var comment sql.NullString
	err := db.QueryRowContext(ctx, `SELECT shobj_description(oid, 'pg_database') FROM pg_database
		WHERE datname = current_database()`).Scan(&comment)
	return comment.String == s.marker(), err
}

// Load fills db, a freshly migrated authsvc database, with s: users user1 …
// userN (email userN@example.com, password Password), user1 with HeavyRows
// ledger rows and the rest spread evenly over the others, each user's rows
// numbered 1… (seq) with a balance row that agrees (balance = Σ amounts). It ends with VACUUM ANALYZE, as a live database would be.
func (s Size) Load(ctx context.Context, db *sql.DB) (time.Duration, error) {
	start := time.Now()
	hash, err := bcrypt.GenerateFromPassword([]byte(Password), Cost)
	if err != nil {
		return 0, err
	}
	others := s.Users - 1
	spread := s.LedgerRows - s.HeavyRows
	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"users", `INSERT INTO users (username, email, password_hash, created_at, updated_at)
			SELECT 'user' || g, 'user' || g || '@example.com', $1, now(), now() FROM generate_series(1, $2) g`,
			[]any{string(hash), s.Users}},
		// Row g of the spread goes to user 2 + g % others, as that user's
		// (g / others + 1)-th row; each adds 0.01.
		{"heavy history", `INSERT INTO credit_transactions (user_id, amount, transaction_type, balance_after, created_at, seq)
			SELECT (SELECT id FROM users WHERE username = 'user1'), 1, 'credit_added', g, now(), g
			FROM generate_series(1, $1) g`, []any{s.HeavyRows}},
		{"spread history", `INSERT INTO credit_transactions (user_id, amount, transaction_type, balance_after, created_at, seq)
			SELECT u.first + 1 + g % $2, 1, 'credit_added', g / $2 + 1, now(), g / $2 + 1
			FROM generate_series(0, $1 - 1) g, (SELECT MIN(id) AS first FROM users) u`, []any{spread, others}},
		{"balances", `INSERT INTO user_credits (user_id, balance, updated_at)
			SELECT user_id, SUM(amount), now() FROM credit_transactions GROUP BY user_id`, nil},
		{"vacuum", `VACUUM ANALYZE`, nil},
		{"marker", fmt.Sprintf(`DO $$ BEGIN EXECUTE format('COMMENT ON DATABASE %%I IS %%L', current_database(), %s); END $$`,
			quote(s.marker())), nil},
	}
	for _, st := range steps {
		if _, err := db.ExecContext(ctx, st.sql, st.args...); err != nil {
			return 0, fmt.Errorf("load %s: %s: %w", s.Name, st.what, err)
		}
	}
	return time.Since(start), nil
}

// quote writes s as an SQL string literal.
func quote(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
