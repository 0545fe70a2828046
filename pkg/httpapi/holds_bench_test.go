package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// BenchmarkCreditHolds measures, in one run and through the whole
// in-process handler on PostgreSQL, a plain POST /credits/use against a
// two-phase debit (POST /credits/holds then POST /credits/holds/{id}/capture):
// one op is one debit either way, so ops/s compare directly. Spread over
// 10,000 users and on one hot account.
func BenchmarkCreditHolds(b *testing.B) {
	db := storetest.Open(b, storetest.PostgresURL(b))
	env := newCreditEnv(b, db, credits.Options{})
	users := seedBenchUsers(b, db, 10_000)
	tokens := benchTokens(b, users)

	call := func(path, tok, body string, want int) []byte {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		env.h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Errorf("%s: status %d: %s", path, rec.Code, rec.Body)
			return nil
		}
		return rec.Body.Bytes()
	}
	for _, shape := range []struct {
		name string
		n    int
	}{{"spread10k", len(users)}, {"hot", 1}} {
		b.Run(shape.name+"/use", func(b *testing.B) {
			runClients(b, benchClients, shape.n, func(i int) bool {
				return call("/credits/use", tokens[i], `{"amount":0.01}`, 200) != nil
			})
		})
		b.Run(shape.name+"/hold+capture", func(b *testing.B) {
			runClients(b, benchClients, shape.n, func(i int) bool {
				body := call("/credits/holds", tokens[i], `{"amount":0.05}`, 201)
				var h struct{ ID int64 }
				if body == nil || json.Unmarshal(body, &h) != nil {
					b.Error("no hold")
					return false
				}
				return call(fmt.Sprintf("/credits/holds/%d/capture", h.ID), tokens[i], `{"amount":0.01}`, 200) != nil
			})
		})
	}
}
