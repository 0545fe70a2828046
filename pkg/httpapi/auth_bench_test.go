package httpapi_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/jmoiron/sqlx"
	"github.com/rs/zerolog"
)

// benchEnv is the in-process API on a fresh PostgreSQL database with one
// user, at the given bcrypt cost.
func benchEnv(b *testing.B, cost int) (*env, *domain.User, string) {
	b.Helper()
	e := newEnv(b, storetest.PostgresURL(b), envConfig{cost: cost, noServer: true, logLevel: zerolog.InfoLevel})
	const pw = "a reasonable passphrase"
	u, tok, err := e.Auth.Register(context.Background(), domain.Registration{
		Username: "alice", Email: "alice@example.com", Password: pw})
	if err != nil {
		b.Fatal(err)
	}
	u, err = e.DB.UserByID(context.Background(), u.ID) // with its hash
	if err != nil {
		b.Fatal(err)
	}
	return e, u, tok.Token
}

// BenchmarkMe compares an authenticated GET /auth/me through the real
// handler stack (middleware, token parse, the one auth query, JSON) with the
// bare floor: verify the JWT and one point select through the same driver
// and pool, as an ad-hoc query and as a prepared statement (the auth query
// is prepared). Goal: handler ≥ 0.9 × bare (docs/performance.md); compare ns/op.
func BenchmarkMe(b *testing.B) {
	e, _, tok := benchEnv(b, 4)
	b.Run("handler", func(b *testing.B) {
		b.SetParallelism(8) // 16 clients on 2 cores, as the 8–32 clients of docs/performance.md
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequest("GET", "/auth/me", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				e.Handler.ServeHTTP(rec, req)
				if rec.Code != 200 {
					b.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
			}
		})
	})
	b.Run("verify_and_auth_query", func(b *testing.B) { // the handler's query without HTTP
		verifyAnd(b, e, tok, func(ctx context.Context, claims *domain.Claims) error {
			_, err := e.DB.AuthUser(ctx, claims.UserID, claims.JTI, claims.SessionID)
			return err
		})
	})
	// The auth query as it was before sessions (no session check), prepared
	// on the same pool: the "before" of the session check, in the same run.
	b.Run("verify_and_auth_query_before_sessions", func(b *testing.B) {
		stmt := benchPrepare(b, e, `SELECT u.id, u.username, u.email, u.password_hash, u.is_admin,
			u.token_version, u.created_at, u.updated_at,
			EXISTS (SELECT 1 FROM revoked_tokens r WHERE r.jti = ?) AS revoked
			FROM users u WHERE u.id = ?`)
		verifyAnd(b, e, tok, func(ctx context.Context, claims *domain.Claims) error {
			var row struct {
				domain.User
				Revoked bool `db:"revoked"`
			}
			return stmt.QueryRowxContext(ctx, claims.JTI, claims.UserID).StructScan(&row)
		})
	})
	const bareSelect = `SELECT id, username, email, password_hash, is_admin, token_version, created_at, updated_at
		FROM users WHERE id = ?`
	b.Run("bare_verify_and_select", func(b *testing.B) {
		q := e.SQL().Rebind(bareSelect)
		verifyAnd(b, e, tok, func(ctx context.Context, claims *domain.Claims) error {
			var u domain.User
			return e.SQL().QueryRowxContext(ctx, q, claims.UserID).StructScan(&u)
		})
	})
	b.Run("bare_verify_and_prepared_select", func(b *testing.B) {
		stmt := benchPrepare(b, e, bareSelect)
		verifyAnd(b, e, tok, func(ctx context.Context, claims *domain.Claims) error {
			var u domain.User
			return stmt.QueryRowxContext(ctx, claims.UserID).StructScan(&u)
		})
	})
}

// verifyAnd runs, from 16 clients on 2 cores (as the 8–32 clients of docs/performance.md),
// what an authenticated request does besides HTTP: verify tok, then query.
func verifyAnd(b *testing.B, e *env, tok string, query func(context.Context, *domain.Claims) error) {
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			claims, err := e.Tokens.ParseAccess(tok)
			if err == nil {
				err = query(ctx, claims)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchPrepare prepares query on the benchmark's pool, closed at its end.
func benchPrepare(b *testing.B, e *env, query string) *sqlx.Stmt {
	stmt, err := e.SQL().Preparex(e.SQL().Rebind(query))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stmt.Close() })
	return stmt
}

// BenchmarkLogin compares POST /auth/login through the real handler stack at
// bcrypt cost 10 with raw bcrypt compares at the same cost on the same cores
// (password's BenchmarkCompare approach). Goal: handler ≥ 0.9 × raw.
func BenchmarkLogin(b *testing.B) {
	e, u, _ := benchEnv(b, 10)
	b.Run("handler_cost10", func(b *testing.B) {
		// Several clients per core, as a loaded server has: the cores stay
		// busy with bcrypt while some logins wait on the database.
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !benchLogin(b, e) {
					return
				}
			}
		})
	})
	b.Run("raw_compare_cost10", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := e.Hasher.PasswordHasher.Compare(u.PasswordHash, "a reasonable passphrase"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkLoginDatabase is POST /auth/login at bcrypt cost 4, where the
// database round trips, not bcrypt, are most of the cost: one client (the
// latency of a login) and 16 (its throughput). Compare with BenchmarkLogin's
// cost-10 handler to see the share the database takes at the default cost.
func BenchmarkLoginDatabase(b *testing.B) {
	e, _, _ := benchEnv(b, 4)
	b.Run("one_client", func(b *testing.B) {
		for b.Loop() {
			if !benchLogin(b, e) {
				return
			}
		}
	})
	b.Run("16_clients", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !benchLogin(b, e) {
					return
				}
			}
		})
	})
}

// benchLogin logs benchEnv's user in through the handler; false (and the
// benchmark failed) unless it got a 200.
func benchLogin(b *testing.B, e *env) bool {
	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader("username=alice&password=a+reasonable+passphrase"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Errorf("status %d: %s", rec.Code, rec.Body)
		return false
	}
	return true
}
