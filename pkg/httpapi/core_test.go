package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// rejectAll is an Authenticator that accepts no token.
type rejectAll struct{}

func (rejectAll) Authenticate(context.Context, string) (*domain.Principal, error) {
	return nil, domain.NewError(domain.EUNAUTHORIZED, "invalid_token", "Could not validate credentials")
}

func newCoreServer(ready func(context.Context) error) *Server {
	return New(Deps{Authenticator: rejectAll{}, Ready: ready, Logger: zerolog.Nop()}, Options{})
}

func serve(h http.Handler, method, path, contentType, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Detail json.RawMessage `json:"detail"`
		Code   string          `json:"code"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Detail) == 0 {
		t.Fatalf("error body %q is not {detail, code}: %v", rec.Body.String(), err)
	}
	return body.Code
}

func TestWireConventions(t *testing.T) {
	h := newCoreServer(nil).Handler()

	t.Run("unknown path is a JSON 404", func(t *testing.T) {
		rec := serve(h, "GET", "/nope", "", "")
		if rec.Code != 404 || errorCode(t, rec) != "not_found" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("wrong method is a JSON 405 with Allow", func(t *testing.T) {
		rec := serve(h, "DELETE", "/auth/register", "", "")
		if rec.Code != 405 || errorCode(t, rec) != "method_not_allowed" || !strings.Contains(rec.Header().Get("Allow"), "POST") {
			t.Fatalf("got %d %s Allow=%q", rec.Code, rec.Body, rec.Header().Get("Allow"))
		}
	})
	t.Run("missing bearer token is 401 with WWW-Authenticate", func(t *testing.T) {
		rec := serve(h, "GET", "/auth/me", "", "")
		if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != "Bearer" || errorCode(t, rec) != "not_authenticated" {
			t.Fatalf("got %d %s %v", rec.Code, rec.Body, rec.Header())
		}
	})
	t.Run("bad bearer token is 401", func(t *testing.T) {
		rec := serve(h, "GET", "/auth/me", "", "", "Authorization", "Bearer abc")
		if rec.Code != 401 || errorCode(t, rec) != "invalid_token" {
			t.Fatalf("got %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("request id is echoed when sane", func(t *testing.T) {
		rec := serve(h, "GET", "/healthz", "", "", "X-Request-ID", "abc-123")
		if got := rec.Header().Get("X-Request-ID"); got != "abc-123" {
			t.Fatalf("X-Request-ID = %q", got)
		}
	})
	t.Run("request id is generated when absent or insane", func(t *testing.T) {
		rec := serve(h, "GET", "/healthz", "", "", "X-Request-ID", "bad id\n<script>")
		if got := rec.Header().Get("X-Request-ID"); got == "" || strings.ContainsAny(got, " <") {
			t.Fatalf("X-Request-ID = %q", got)
		}
	})
}

func TestReadiness(t *testing.T) {
	notReady := newCoreServer(func(context.Context) error { return errors.New("migrations pending") }).Handler()
	if rec := serve(notReady, "GET", "/readyz", "", ""); rec.Code != 503 || errorCode(t, rec) != "not_ready" {
		t.Fatalf("readyz when not ready: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(notReady, "GET", "/healthz", "", ""); rec.Code != 200 {
		t.Fatalf("healthz must not depend on the database: %d", rec.Code)
	}
	ready := newCoreServer(func(context.Context) error { return nil }).Handler()
	if rec := serve(ready, "GET", "/readyz", "", ""); rec.Code != 200 {
		t.Fatalf("readyz when ready: %d %s", rec.Code, rec.Body)
	}
}

func TestDecodeJSON(t *testing.T) {
	type payload struct {
		Name  string `json:"name"`
		Count int    `json:"count"`
	}
	decode := func(contentType, body string) (payload, error) {
		var p payload
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		return p, decodeJSON(httptest.NewRecorder(), req, &p)
	}
	status := func(err error) int {
		var he *httpError
		if errors.As(err, &he) {
			return he.status
		}
		return statusByCode[domain.ErrorCode(err)]
	}
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantLoc                 string
	}{
		{"valid", "application/json; charset=utf-8", `{"name":"a","count":2}`, 0, ""},
		{"not JSON content type", "text/plain", `{"name":"a"}`, 415, ""},
		{"form content type", "application/x-www-form-urlencoded", `name=a`, 415, ""},
		{"over 64 KiB", "application/json", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, ""},
		{"malformed", "application/json", `{"name":`, 422, "body"},
		{"empty body", "application/json", ``, 422, "body"},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 422, "body.admin"},
		{"wrong type", "application/json", `{"count":"x"}`, 422, "body.count"},
		{"not an object", "application/json", `[1,2]`, 422, "body"},
		{"trailing data", "application/json", `{"name":"a"} {"name":"b"}`, 422, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode(tt.contentType, tt.body)
			if got := status(err); err != nil && got != tt.wantStatus || err == nil && tt.wantStatus != 0 {
				t.Fatalf("err %v (status %d), want status %d", err, got, tt.wantStatus)
			}
			if tt.wantLoc != "" {
				var e *domain.Error
				if !errors.As(err, &e) || len(e.Fields) != 1 || strings.Join(e.Fields[0].Loc, ".") != tt.wantLoc {
					t.Fatalf("err %+v, want one field at %s", err, tt.wantLoc)
				}
			}
		})
	}
}

func TestPanicBecomesGeneric500(t *testing.T) {
	var logs strings.Builder
	s := New(Deps{Authenticator: rejectAll{}, Logger: zerolog.New(&logs)}, Options{
		Middleware: []func(http.Handler) http.Handler{func(http.Handler) http.Handler {
			return http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret internals") })
		}},
	})
	rec := serve(s.Handler(), "GET", "/healthz", "", "")
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret") || errorCode(t, rec) != "internal" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "handler panicked") {
		t.Fatalf("panic not logged: %s", logs.String())
	}
}
