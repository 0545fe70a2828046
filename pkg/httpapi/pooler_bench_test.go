package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// BenchmarkPreparedStatements measures GET /auth/me and POST /credits/use
// (spread over 1,000 accounts) through the whole in-process handler on one
// PostgreSQL database, once with named prepared statements (the default,
// database.prepared_statements: on) and once without (off, as behind
// PgBouncer in transaction mode). Compare the ops/s of on and off.
func BenchmarkPreparedStatements(b *testing.B) {
	url := storetest.PostgresURL(b)
	seedDB := storetest.Open(b, url)
	users := seedBenchUsers(b, seedDB, 1_000)
	tokens := benchTokens(b, users)
	for _, mode := range []struct {
		name string
		off  bool
	}{{"on", false}, {"off", true}} {
		db := storetest.OpenWith(b, url, func(o *storetest.Options) { o.NoPreparedStatements = mode.off })
		env := newCreditEnv(b, db, credits.Options{})
		for _, path := range []string{"/auth/me", "/credits/use"} {
			b.Run(strings.TrimPrefix(path, "/")+"/"+mode.name, func(b *testing.B) {
				runClients(b, benchClients, len(users), func(i int) bool {
					var rec *httptest.ResponseRecorder
					if path == "/credits/use" {
						rec = env.post(path, tokens[i])
					} else {
						req := httptest.NewRequest("GET", path, nil)
						req.Header.Set("Authorization", "Bearer "+tokens[i])
						rec = httptest.NewRecorder()
						env.h.ServeHTTP(rec, req)
					}
					if rec.Code != 200 {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return false
					}
					return true
				})
			})
		}
	}
}
