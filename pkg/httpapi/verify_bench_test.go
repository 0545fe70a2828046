package httpapi

import (
	"context"
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authsvc/authsvc/pkg/apikey"
	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// BenchmarkKeyVerify measures POST /keys/verify through the whole in-process
// handler on PostgreSQL, with 32 concurrent clients, against what it
// replaces, in one run. Compare the ops/s:
//   - verify/no-cost (100 active keys) ÷ me/jwt (GET /auth/me with an
//     access token): target ≥ 1.5;
//   - spread10k/verify-cost ÷ spread10k/use (POST /credits/use, each over
//     10,000 accounts, one key each; the sums of the A B B A runs): target
//     ≥ 0.9;
//   - hot/verify-cost (one key, group commit on) ÷ hot/bare (the bare SQL of
//     one debit per transaction): target ≥ 2.
func BenchmarkKeyVerify(b *testing.B) {
	db := storetest.Open(b, storetest.PostgresURL(b))
	env := newCreditEnv(b, db, credits.Options{GroupCommit: true, MaxBatch: domain.DefaultGroupCommitMaxBatch})
	users := seedBenchUsers(b, db, 10_000)
	tokens := benchTokens(b, users)
	keys := seedBenchKeys(b, db, users)
	raw := storetest.SQL(b, db).DB
	raw.SetMaxOpenConns(groupCommitClients)
	raw.SetMaxIdleConns(groupCommitClients)
	parallelism := max(1, (groupCommitClients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	var ref atomic.Int64

	verify := func(n int, cost bool) func(b *testing.B) {
		return func(b *testing.B) {
			runClients(b, parallelism, n, func(i int) bool {
				body := `{"key":"` + keys[i] + `"}`
				if cost {
					body = fmt.Sprintf(`{"key":%q,"cost":{"amount":0.01,"reference_id":"r%d"}}`, keys[i], ref.Add(1))
				}
				req := httptest.NewRequest("POST", "/keys/verify", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+benchVerifierSecret)
				rec := httptest.NewRecorder()
				env.h.ServeHTTP(rec, req)
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"valid":true`) {
					b.Errorf("verify: %d %s", rec.Code, rec.Body)
					return false
				}
				return true
			})
		}
	}
	b.Run("me/jwt", func(b *testing.B) {
		runClients(b, parallelism, len(users), func(i int) bool {
			if rec := env.call("GET", "/auth/me", tokens[i], ""); rec.Code != 200 {
				b.Errorf("me: %d %s", rec.Code, rec.Body)
				return false
			}
			return true
		})
	})
	// A product's active customers: 100 keys, each used many times a second,
	// so a replica answers from memory (a key is read at most once a second).
	b.Run("verify/no-cost", verify(100, false))
	use := func(b *testing.B) {
		runClients(b, parallelism, len(users), func(i int) bool {
			if rec := env.post("/credits/use", tokens[i]); rec.Code != 200 {
				b.Errorf("use: %d %s", rec.Code, rec.Body)
				return false
			}
			return true
		})
	}
	// In the order A B B A: the ledger grows as the run goes, which slows
	// whatever runs later; compare the sums.
	b.Run("spread10k/use", use)
	b.Run("spread10k/verify-cost", verify(len(users), true))
	b.Run("spread10k/verify-cost-again", verify(len(users), true))
	b.Run("spread10k/use-again", use)
	b.Run("hot/verify-cost", verify(1, true))
	b.Run("hot/bare", func(b *testing.B) {
		runClients(b, parallelism, 1, func(i int) bool {
			if err := bareUse(context.Background(), raw, users[i].ID, 1); err != nil {
				b.Error(err)
				return false
			}
			return true
		})
	})
}

// seedBenchKeys makes one API key per user in one statement and returns the
// keys' secrets, index for index. The keys were used a moment ago, as in a
// running product: their last_used_at is not due for a write.
func seedBenchKeys(b *testing.B, db *storetest.DB, users []*domain.User) []string {
	b.Helper()
	keys := make([]string, len(users))
	var q strings.Builder
	q.WriteString(`INSERT INTO api_keys (id, user_id, name, shown, key_hash, scopes, token_version, created_at, last_used_at) VALUES `)
	args := []any{db.Now()}
	for i, u := range users {
		k, err := apikey.New()
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
		if i > 0 {
			q.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&q, "($%d, $%d, 'bench', $%d, $%d, '[\"credits:use\"]', 1, $1, $1)", n+1, n+2, n+3, n+4)
		args = append(args, fmt.Sprintf("k%d", u.ID), u.ID, apikey.Shown(k), apikey.Hash(k))
	}
	if _, err := storetest.SQL(b, db).Exec(q.String(), args...); err != nil {
		b.Fatal(err)
	}
	return keys
}
