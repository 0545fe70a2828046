package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/apikeys"
	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/rs/zerolog"
)

// benchVerifierSecret is the service credential of the credit env's
// POST /keys/verify.
const benchVerifierSecret = "bench-verifier-secret-0123456789abcdef"

// creditTestSecret signs the tokens of the credit tests and benchmarks.
const creditTestSecret = "credit-tests-secret-0123456789abcdef"

// creditEnv is the real API (store, auth, credits) in-process, with helpers
// to make users and call the credit endpoints with their real tokens.
type creditEnv struct {
	h    http.Handler
	db   *storetest.DB
	auth *account.Service
}

func newCreditEnv(t testing.TB, db *storetest.DB, opts credits.Options) *creditEnv {
	t.Helper()
	issuer, err := token.New(token.Config{Secret: []byte(creditTestSecret), Issuer: "authsvc", Audience: "authsvc",
		AccessTTL: time.Hour, ResetTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.New(4)
	if err != nil {
		t.Fatal(err)
	}
	authSvc, err := account.New(account.Deps{Store: db, Hasher: hasher, Policy: hasher, Tokens: issuer}, testkit.AccountOptions())
	if err != nil {
		t.Fatal(err)
	}
	creditSvc := credits.New(db, opts)
	keys := apikeys.New(db, apikeys.Options{Ledger: creditSvc})
	srv := New(Deps{Auth: authSvc, Credits: creditSvc, Holds: credits.NewHolds(db, credits.HoldOptions{GroupCommit: creditSvc.GroupCommit()}),
		Authenticator: authSvc, APIKeys: keys, Verifier: keys, VerifierSecrets: []string{benchVerifierSecret},
		Logger: zerolog.Nop()}, Options{})
	h := srv.Handler()
	if _, benchmark := t.(*testing.B); !benchmark {
		h = SpecCheckingHandler(t, h) // every response checked against the OpenAPI document
	}
	return &creditEnv{h: h, db: db, auth: authSvc}
}

// user creates an account and returns it with a valid access token.
func (e *creditEnv) user(t testing.TB, name string, admin bool) (*domain.User, string) {
	t.Helper()
	u := &domain.User{Username: name, Email: strings.ToLower(name) + "@example.com", PasswordHash: "x", IsAdmin: admin}
	if err := e.db.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	tok, err := e.auth.IssueToken(context.Background(), name, time.Hour)
	if err != nil {
		t.Fatalf("token for %s: %v", name, err)
	}
	return u, tok.Token
}

func (e *creditEnv) call(method, path, tok, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// transaction decodes a 200 transaction response.
func transaction(t testing.TB, rec *httptest.ResponseRecorder) *domain.Transaction {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("got %d %s, want 200", rec.Code, rec.Body)
	}
	var tx domain.Transaction
	if err := json.Unmarshal(rec.Body.Bytes(), &tx); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	return &tx
}

// locs returns the loc of every entry of a 422 body.
func locs(t testing.TB, rec *httptest.ResponseRecorder) []string {
	t.Helper()
	var body struct {
		Detail []struct {
			Loc []string `json:"loc"`
		} `json:"detail"`
		Code string `json:"code"`
	}
	if rec.Code != http.StatusUnprocessableEntity || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Code != "validation_error" {
		t.Fatalf("got %d %s, want a 422 validation_error", rec.Code, rec.Body)
	}
	var out []string
	for _, d := range body.Detail {
		out = append(out, strings.Join(d.Loc, "."))
	}
	return out
}

var rfc3339UTC = regexp.MustCompile(`"created_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"`)

func TestCreditEndpoints(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		env := newCreditEnv(t, db, credits.Options{})
		admin, adminTok := env.user(t, "root", true)
		alice, aliceTok := env.user(t, "alice", false)

		t.Run("credit endpoints need a token", func(t *testing.T) {
			for _, path := range []string{"/credits/balance", "/credits/transactions"} {
				if rec := env.call("GET", path, "", ""); rec.Code != 401 {
					t.Fatalf("%s: got %d", path, rec.Code)
				}
			}
			if rec := env.call("POST", "/credits/use", "", `{"amount":1}`); rec.Code != 401 {
				t.Fatalf("use: got %d", rec.Code)
			}
		})
		t.Run("NUL characters in text fields are 422, never a 500", func(t *testing.T) {
			rec := env.call("POST", "/credits/add", adminTok, `{"amount":1,"reference_id":"a\u0000b","description":"x\u0000"}`)
			if rec.Code != 422 || !strings.Contains(rec.Body.String(), `"reference_id"`) || !strings.Contains(rec.Body.String(), `"description"`) {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
		})
		t.Run("a new user's balance is 0.0", func(t *testing.T) {
			rec := env.call("GET", "/credits/balance", aliceTok, "")
			want := fmt.Sprintf(`{"user_id":%d,"balance":0.0,"updated_at":"`, alice.ID)
			if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), want) || !strings.HasSuffix(strings.TrimSpace(rec.Body.String()), `Z","available":0.0,"held":0.0}`) {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
		})
		t.Run("an admin's add returns the transaction object", func(t *testing.T) {
			rec := env.call("POST", "/credits/add", adminTok, `{"amount": 50.00}`)
			body := rec.Body.String()
			want := fmt.Sprintf(`{"id":1,"user_id":%d,"amount":50.0,"transaction_type":"credit_added","reference_id":null,"description":null,"created_at":`, admin.ID)
			if rec.Code != 200 || !strings.HasPrefix(body, want) || !strings.HasSuffix(strings.TrimSpace(body), `,"new_balance":50.0}`) || !rfc3339UTC.MatchString(body) {
				t.Fatalf("got %d %s", rec.Code, body)
			}
		})
		t.Run("0.1 + 0.2 is exactly 0.3", func(t *testing.T) {
			env.call("POST", "/credits/add", adminTok, `{"amount":0.1,"username":"alice"}`)
			rec := env.call("POST", "/credits/add", adminTok, `{"amount":0.2,"username":"ALICE","description":"top-up"}`)
			if tx := transaction(t, rec); tx.UserID != alice.ID || !strings.Contains(rec.Body.String(), `"new_balance":0.3}`) {
				t.Fatalf("got %s", rec.Body)
			}
			if rec := env.call("GET", "/credits/balance", aliceTok, ""); !strings.Contains(rec.Body.String(), `"balance":0.3,`) {
				t.Fatalf("balance %s", rec.Body)
			}
		})
		t.Run("bad amounts are 422 naming body.amount", func(t *testing.T) {
			for _, amount := range []string{`0`, `-1`, `0.001`, `"10"`, `null`, `1e12`, `1e309`, `1.005`, `1E2`, `true`, `[]`, `{}`} {
				for _, path := range []string{"/credits/add", "/credits/use"} {
					rec := env.call("POST", path, adminTok, `{"amount":`+amount+`}`)
					if got := locs(t, rec); !slices.Equal(got, []string{"body.amount"}) {
						t.Fatalf("%s %s: locs %v (%s)", path, amount, got, rec.Body)
					}
				}
			}
			if got := locs(t, env.call("POST", "/credits/use", adminTok, `{}`)); !slices.Equal(got, []string{"body.amount"}) {
				t.Fatalf("missing amount: %v", got)
			}
		})
		t.Run("every bad field is reported at once", func(t *testing.T) {
			body := fmt.Sprintf(`{"amount":0,"reference_id":%q,"description":%q}`, strings.Repeat("r", 129), strings.Repeat("d", 501))
			got := locs(t, env.call("POST", "/credits/use", aliceTok, body))
			if !slices.Equal(got, []string{"body.amount", "body.reference_id", "body.description"}) {
				t.Fatalf("locs %v", got)
			}
		})
		t.Run("use does not take a username", func(t *testing.T) {
			if got := locs(t, env.call("POST", "/credits/use", aliceTok, `{"amount":1,"username":"root"}`)); !slices.Equal(got, []string{"body.username"}) {
				t.Fatalf("locs %v", got)
			}
		})
		t.Run("add permissions", func(t *testing.T) {
			for _, body := range []string{`{"amount":1}`, `{"amount":1,"username":"root"}`, `{"amount":1,"username":"nobody"}`} {
				if rec := env.call("POST", "/credits/add", aliceTok, body); rec.Code != 403 || errorCode(t, rec) != "forbidden" {
					t.Fatalf("non-admin %s: got %d %s", body, rec.Code, rec.Body)
				}
			}
			if rec := env.call("POST", "/credits/add", adminTok, `{"amount":1,"username":"nobody"}`); rec.Code != 404 {
				t.Fatalf("unknown username: got %d %s", rec.Code, rec.Body)
			}
			open := newCreditEnv(t, db, credits.Options{UserSelfAdd: true})
			if tx := transaction(t, open.call("POST", "/credits/add", aliceTok, `{"amount":1}`)); tx.UserID != alice.ID {
				t.Fatalf("self add went to %d", tx.UserID)
			}
		})
		t.Run("insufficient credits is 400", func(t *testing.T) {
			rec := env.call("POST", "/credits/use", aliceTok, `{"amount":1000}`)
			if rec.Code != 400 || strings.TrimSpace(rec.Body.String()) != `{"detail":"Insufficient credits","code":"insufficient_credits"}` {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
		})
		t.Run("reference_id is an idempotency key", func(t *testing.T) {
			first := transaction(t, env.call("POST", "/credits/use", aliceTok, `{"amount":0.25,"reference_id":"p1","description":"a"}`))
			again := transaction(t, env.call("POST", "/credits/use", aliceTok, `{"amount":0.250,"reference_id":"p1","description":"b"}`))
			if again.ID != first.ID || *again.Description != "a" || again.NewBalance != first.NewBalance {
				t.Fatalf("first %+v again %+v", first, again)
			}
			rec := env.call("POST", "/credits/use", aliceTok, `{"amount":0.26,"reference_id":"p1"}`)
			if rec.Code != 409 || errorCode(t, rec) != "idempotency_conflict" {
				t.Fatalf("other amount: got %d %s", rec.Code, rec.Body)
			}
			if other := transaction(t, env.call("POST", "/credits/use", adminTok, `{"amount":0.25,"reference_id":"p1"}`)); other.UserID != admin.ID {
				t.Fatalf("another user's key: %+v", other)
			}
		})
		t.Run("history is newest first with total_count", func(t *testing.T) {
			rec := env.call("GET", "/credits/transactions?skip=1&limit=2", aliceTok, "")
			var page struct {
				Transactions []domain.Transaction `json:"transactions"`
				TotalCount   int64                `json:"total_count"`
			}
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			if page.TotalCount != 4 || len(page.Transactions) != 2 || page.Transactions[0].ID <= page.Transactions[1].ID ||
				page.Transactions[0].Type != domain.CreditAdded {
				t.Fatalf("page %+v", page)
			}
			if rec := env.call("GET", "/credits/transactions", freshUserToken(t, env), ""); strings.TrimSpace(rec.Body.String()) != `{"transactions":[],"total_count":0,"next_cursor":null}` {
				t.Fatalf("empty history %s", rec.Body)
			}
		})
		t.Run("next_cursor continues the history where the page ended", func(t *testing.T) {
			var first, second struct {
				Transactions []domain.Transaction `json:"transactions"`
				NextCursor   *string              `json:"next_cursor"`
			}
			rec := env.call("GET", "/credits/transactions?limit=3", aliceTok, "")
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &first) != nil || first.NextCursor == nil {
				t.Fatalf("first page %d %s", rec.Code, rec.Body)
			}
			rec = env.call("GET", "/credits/transactions?limit=3&cursor="+*first.NextCursor, aliceTok, "")
			if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &second) != nil {
				t.Fatalf("second page %d %s", rec.Code, rec.Body)
			}
			if len(first.Transactions) != 3 || len(second.Transactions) != 1 || second.NextCursor != nil ||
				second.Transactions[0].ID >= first.Transactions[2].ID {
				t.Fatalf("pages %+v then %+v", first, second)
			}
		})
		t.Run("bad skip and limit are 422 naming the query parameter", func(t *testing.T) {
			cases := map[string][]string{
				"?cursor=zz":          {"query.cursor"},
				"?cursor=5&skip=1":    {"query.skip"},
				"?skip=-1":            {"query.skip"},
				"?limit=0":            {"query.limit"},
				"?limit=201":          {"query.limit"},
				"?skip=x&limit=1.5":   {"query.skip", "query.limit"},
				"?skip=&limit=":       {"query.skip", "query.limit"},
				"?skip=-5&limit=1000": {"query.skip", "query.limit"},
			}
			for q, want := range cases {
				if got := locs(t, env.call("GET", "/credits/transactions"+q, aliceTok, "")); !slices.Equal(got, want) {
					t.Fatalf("%s: locs %v, want %v", q, got, want)
				}
			}
			if rec := env.call("GET", "/credits/transactions?skip=0&limit=200", aliceTok, ""); rec.Code != 200 {
				t.Fatalf("limit 200: %d", rec.Code)
			}
		})
	})
}

// freshUserToken makes a fresh user with no history and returns its token.
func freshUserToken(t *testing.T, env *creditEnv) string {
	t.Helper()
	_, tok := env.user(t, "fresh", false)
	return tok
}

func TestCreditConcurrencyOverHTTP(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		env := newCreditEnv(t, db, credits.Options{})
		_, adminTok := env.user(t, "root", true)
		_, tok := env.user(t, "spender", false)
		transaction(t, env.call("POST", "/credits/add", adminTok, `{"amount":100.00,"username":"spender"}`))

		t.Run("200 concurrent uses of 1.00 on 100.00: 100 succeed, 100 are 400", func(t *testing.T) {
			codes := make([]int, 200)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Go(func() {
					rec := env.call("POST", "/credits/use", tok, `{"amount":1.00}`)
					codes[i] = rec.Code
					if rec.Code == 200 && strings.Contains(rec.Body.String(), `"new_balance":-`) {
						codes[i] = -1
					}
				})
			}
			wg.Wait()
			count := map[int]int{}
			for _, c := range codes {
				count[c]++
			}
			if count[200] != 100 || count[400] != 100 {
				t.Fatalf("status counts %v", count)
			}
			if rec := env.call("GET", "/credits/balance", tok, ""); !strings.Contains(rec.Body.String(), `"balance":0.0,`) {
				t.Fatalf("balance %s", rec.Body)
			}
		})
		t.Run("10 concurrent adds with one reference_id make one transaction", func(t *testing.T) {
			ids := make([]int64, 10)
			var wg sync.WaitGroup
			for i := range ids {
				wg.Go(func() {
					rec := env.call("POST", "/credits/add", adminTok, `{"amount":5,"reference_id":"order-9","username":"spender"}`)
					var tx domain.Transaction
					if rec.Code == 200 && json.Unmarshal(rec.Body.Bytes(), &tx) == nil {
						ids[i] = tx.ID
					}
				})
			}
			wg.Wait()
			for _, id := range ids {
				if id == 0 || id != ids[0] {
					t.Fatalf("ids %v, want ten times the same", ids)
				}
			}
			if rec := env.call("GET", "/credits/balance", tok, ""); !strings.Contains(rec.Body.String(), `"balance":5.0,`) {
				t.Fatalf("balance %s", rec.Body)
			}
		})
	})
}
