package httpapi

import (
	"context"
	"database/sql"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
)

// benchClients is how many goroutines per GOMAXPROCS drive each benchmark, so
// that handler and bare SQL see the same concurrency (2 cores × 8 = 16).
const benchClients = 8

// BenchmarkCreditUse measures POST /credits/use through the whole in-process
// handler (httptest.NewRecorder + Server.Handler, real tokens, real
// Authenticator, PostgreSQL), and the same debit SQL bare through
// database/sql in the same run: spread over 10,000 users and on one hot
// account. Compare the ops/s of handler and bare for the ratio.
func BenchmarkCreditUse(b *testing.B) {
	db := storetest.Open(b, storetest.PostgresURL(b))
	env := newCreditEnv(b, db, credits.Options{})
	users := seedBenchUsers(b, db, 10_000)
	tokens := benchTokens(b, users)
	raw := storetest.SQL(b, db).DB

	for _, shape := range []struct {
		name string
		n    int
	}{{"spread10k", len(users)}, {"hot", 1}} {
		b.Run(shape.name+"/handler", func(b *testing.B) {
			runClients(b, benchClients, shape.n, func(i int) bool {
				if rec := env.post("/credits/use", tokens[i]); rec.Code != 200 {
					b.Errorf("status %d: %s", rec.Code, rec.Body)
					return false
				}
				return true
			})
		})
		b.Run(shape.name+"/bare", func(b *testing.B) {
			runClients(b, benchClients, shape.n, func(i int) bool {
				if err := bareUse(context.Background(), raw, users[i].ID, 1); err != nil {
					b.Error(err)
					return false
				}
				return true
			})
		})
	}
}

// runClients calls op from perCore goroutines per core until b.N calls are
// made, each with the next index modulo n (round robin over n accounts), and
// reports the rate; op returns false to stop its goroutine.
func runClients(b *testing.B, perCore, n int, op func(i int) bool) {
	var next atomic.Int64
	b.SetParallelism(perCore)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !op(int(next.Add(1)) % n) {
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// post sends a credit request of 0.01 with the bearer token to the handler.
func (env *creditEnv) post(path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(`{"amount":0.01}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	env.h.ServeHTTP(rec, req)
	return rec
}

// bareUse is the store's debit (conditional update + transaction row, one
// transaction) written directly against database/sql.
func bareUse(ctx context.Context, db *sql.DB, userID, amount int64) error {
	now := time.Now().UTC()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var balance, id int64
	err = tx.QueryRowContext(ctx, `UPDATE user_credits SET balance = balance - $1, updated_at = $2
		WHERE user_id = $3 AND balance >= $4 RETURNING balance`, amount, now, userID, amount).Scan(&balance)
	if err != nil {
		return err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO credit_transactions
		(user_id, amount, transaction_type, reference_id, description, balance_after, created_at, seq)
		VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT COALESCE(MAX(seq), 0) + 1 FROM credit_transactions WHERE user_id = $1))
		RETURNING id`, userID, amount, "credit_used", nil, nil, balance, now).Scan(&id)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// seedBenchUsers inserts n users with a large balance each (PostgreSQL).
func seedBenchUsers(b *testing.B, db *storetest.DB, n int) []*domain.User {
	b.Helper()
	now := db.Now()
	_, err := storetest.SQL(b, db).Exec(`INSERT INTO users (username, email, password_hash, is_admin, token_version, created_at, updated_at)
		SELECT 'bench' || g, 'bench' || g || '@example.com', 'x', FALSE, 1, $2, $2 FROM generate_series(1, $1) g`, n, now)
	if err == nil {
		_, err = storetest.SQL(b, db).Exec(`INSERT INTO user_credits (user_id, balance, updated_at) SELECT id, 1000000000000, $1 FROM users`, now)
	}
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	var users []*domain.User
	if err := storetest.SQL(b, db).Select(&users, `SELECT id, username, email, password_hash, is_admin, token_version, created_at, updated_at
		FROM users WHERE username LIKE 'bench%' ORDER BY id`); err != nil {
		b.Fatal(err)
	}
	return users
}

// benchTokens issues a real access token per user with the secret the
// benchmark's server verifies (see newCreditEnv).
func benchTokens(b *testing.B, users []*domain.User) []string {
	b.Helper()
	issuer, err := token.New(token.Config{Secret: []byte(creditTestSecret), Issuer: "authsvc", Audience: "authsvc",
		AccessTTL: time.Hour, ResetTTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, len(users))
	for i, u := range users {
		if tokens[i], _, err = issuer.IssueAccess(u, time.Now(), ""); err != nil {
			b.Fatal(err)
		}
	}
	return tokens
}
