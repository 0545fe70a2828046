package httpapi

import (
	"context"
	"runtime"
	"testing"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// groupCommitClients is how many concurrent clients drive each group-commit
// benchmark (the group-commit figures of docs/performance.md).
const groupCommitClients = 32

// BenchmarkCreditUseGroupCommit measures POST /credits/use through the whole
// in-process handler with group commit on and off, and the bare SQL of one
// debit per transaction, with 32 concurrent clients on PostgreSQL, in one
// run: on one hot account, and spread over 10,000 accounts. Compare the
// ops/s: hot/handler-on ÷ hot/bare (target ≥ 2), hot/handler-off ÷ hot/bare
// (≥ 0.9), spread10k/handler-on ÷ spread10k/handler-off (≥ 0.95); and
// hot-holds: new holds on one account, group commit on and off.
func BenchmarkCreditUseGroupCommit(b *testing.B) {
	db := storetest.Open(b, storetest.PostgresURL(b))
	on := newCreditEnv(b, db, credits.Options{GroupCommit: true, MaxBatch: domain.DefaultGroupCommitMaxBatch})
	off := newCreditEnv(b, db, credits.Options{})
	users := seedBenchUsers(b, db, 10_000)
	tokens := benchTokens(b, users)
	raw := storetest.SQL(b, db).DB
	raw.SetMaxOpenConns(groupCommitClients)
	raw.SetMaxIdleConns(groupCommitClients)
	parallelism := max(1, (groupCommitClients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
	var request func(env *creditEnv, n int, path string, status int) func(b *testing.B)

	handler := func(env *creditEnv, n int) func(b *testing.B) { return request(env, n, "/credits/use", 200) }
	request = func(env *creditEnv, n int, path string, status int) func(b *testing.B) {
		return func(b *testing.B) {
			runClients(b, parallelism, n, func(i int) bool {
				if rec := env.post(path, tokens[i]); rec.Code != status {
					b.Errorf("status %d: %s", rec.Code, rec.Body)
					return false
				}
				return true
			})
		}
	}
	bare := func(n int) func(b *testing.B) {
		return func(b *testing.B) {
			runClients(b, parallelism, n, func(i int) bool {
				if err := bareUse(context.Background(), raw, users[i].ID, 1); err != nil {
					b.Error(err)
					return false
				}
				return true
			})
		}
	}
	b.Run("hot/handler-on", handler(on, 1))
	b.Run("hot/handler-off", handler(off, 1))
	b.Run("hot/bare", bare(1))
	b.Run("spread10k/handler-on", handler(on, len(users)))
	b.Run("spread10k/handler-off", handler(off, len(users)))
	b.Run("spread10k/bare", bare(len(users)))
	// New holds on one hot account (POST /credits/holds), group commit on and off.
	b.Run("hot-holds/handler-on", request(on, 1, "/credits/holds", 201))
	b.Run("hot-holds/handler-off", request(off, 1, "/credits/holds", 201))
}
