package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// fuzzEnv is an in-process API on SQLite with one user, alice, and her token.
func fuzzEnv(f *testing.F) (*env, string) {
	e := newEnv(f, storetest.SQLiteURL(f), envConfig{noServer: true})
	_, tok, err := e.Auth.Register(context.Background(), domain.Registration{
		Username: "alice", Email: "alice@example.com", Password: "Alice-Str0ng-pw"})
	if err != nil {
		f.Fatal(err)
	}
	e.secret(tok.Token)
	return e, tok.Token
}

// checkFuzzResponse fails on a 5xx or a body that is not JSON.
func checkFuzzResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("body is not JSON: %q", rec.Body)
	}
}

// FuzzAuthenticate sends arbitrary bearer tokens through the real middleware
// and token parser: never a panic, never a 500; anything but alice's real
// token is a 401.
func FuzzAuthenticate(f *testing.F) {
	e, valid := fuzzEnv(f)
	head, rest, _ := strings.Cut(valid, ".")
	payload, _, _ := strings.Cut(rest, ".")
	for _, seed := range []string{
		valid, "", "x", "a.b.c", "..", head + "." + payload + ".", head + "." + payload + ".AAAA",
		"eyJhbGciOiJub25lIn0." + payload + ".", valid + "x", strings.Repeat("A", 5000),
		"eyJhbGciOiJIUzI1NiJ9.bnVsbA.sig", "eyJhbGciOiJIUzI1NiJ9.W10.sig", "\x00\xff", valid[:len(valid)-1],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		req := httptest.NewRequest("GET", "/auth/me", nil)
		req.Header["Authorization"] = []string{"Bearer " + tok}
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		checkFuzzResponse(t, rec)
		if strings.TrimSpace(tok) != valid && rec.Code != http.StatusUnauthorized {
			t.Fatalf("token %q: status %d", tok, rec.Code)
		}
	})
}

// fuzzRoutes are the endpoints that take a body (auth and credits).
var fuzzRoutes = []struct {
	method, path string
	authed       bool
}{
	{"POST", "/auth/register", false},
	{"POST", "/auth/login", false},
	{"POST", "/auth/password-reset-request", false},
	{"POST", "/auth/reset-password", false},
	{"POST", "/auth/refresh", false},
	{"PUT", "/auth/users/alice/password", true},
	{"PUT", "/auth/users/alice/email", true},
	{"DELETE", "/auth/users/alice", true},
	{"POST", "/credits/add", true},
	{"POST", "/credits/use", true},
	{"POST", "/credits/holds", true},
	{"POST", "/credits/holds/1/capture", true},
}

// FuzzAuthDecoders sends arbitrary bodies (JSON or form) to every
// endpoint that takes one: never a panic, never a 500, always a JSON body.
func FuzzAuthDecoders(f *testing.F) {
	e, tok := fuzzEnv(f)
	seeds := []string{
		`{}`, `null`, `[]`, `"x"`, `{"username":"bob","email":"bob@example.com","password":"Bob-Str0ng-pw1"}`,
		`{"username":"alice","password":"Alice-Str0ng-pw"}`, `{"username":1}`, `{"email":"a@b.c"}`, `{"email":["x"]}`,
		`{"token":"a.b.c","new_password":"Brand-New-Str0ng"}`, `{"token":null}`, `{"current_password":"x","new_password":"y"}`,
		`{"new_email":"Q <q@example.com>","current_password":"Alice-Str0ng-pw"}`, `{"password":"wrong"}`,
		`{"a":1}`, `{"username":"x"} {"y":1}`, `{"username":"\u0000"}`, `{`, ``, "\xff\xfe",
		`{"username":"` + strings.Repeat("a", 70000) + `"}`, `{"password":1e999}`,
		`{"amount":0.1}`, `{"amount":1.005}`, `{"amount":"10"}`, `{"amount":-0}`, `{"amount":1e2}`,
		`{"amount":5,"reference_id":"r","description":"d","username":"alice"}`, `{"amount":99999999999999999999}`,
		`{"amount":1,"expires_in":9223372037}`, `{"amount":1,"expires_in":-1}`, `{"amount":1,"expires_in":1.5}`,
		`{"amount":null}`, `{"reference_id":"r"}`,
	}
	for i := range fuzzRoutes {
		for _, s := range seeds {
			f.Add(uint8(i), false, s)
		}
		f.Add(uint8(i), true, "username=alice&password=Alice-Str0ng-pw&grant_type=password")
		f.Add(uint8(i), true, "username=%zz&password=")
	}
	f.Fuzz(func(t *testing.T, route uint8, isForm bool, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		if isForm {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		if rt.authed {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		e.Handler.ServeHTTP(rec, req)
		checkFuzzResponse(t, rec)
	})
}
