package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/oidcprovider"
	"github.com/authsvc/authsvc/pkg/openapi"
	"github.com/authsvc/authsvc/pkg/ratelimit"
)

// The OpenAPI document against the code: it is valid, it lists exactly the
// route table's operations, and responses can be checked against it. The
// exported helpers below (test-only) are for the end-to-end tests of both
// test packages: ValidateAgainstSpec, SpecCheckingTransport and
// SpecCheckingHandler.

// specChecker validates responses against the OpenAPI document.
type specChecker struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

// loadSpecChecker parses the document once per test binary; the checker is
// read-only afterwards.
var loadSpecChecker = sync.OnceValues(func() (*specChecker, error) {
	doc, err := openapi.Load(context.Background())
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the openapi document: %w", err)
	}
	return &specChecker{doc: doc, router: router, opts: &openapi3filter.Options{
		IncludeResponseStatus: true, // an undocumented status is a failure
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}}, nil
})

// CheckAgainstSpec reports how a response departs from the OpenAPI
// document: an undocumented status, a missing required header, a body that
// does not match the schema; nil when it matches. A request no operation
// matches must have answered the API's 404 (unknown path) or 405 (wrong
// method) error.
func CheckAgainstSpec(req *http.Request, status int, header http.Header, body []byte) error {
	c, err := loadSpecChecker()
	if err != nil {
		return err
	}
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return nil // a CORS preflight, answered by the CORS middleware, not an operation
	}
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return c.checkUnrouted(err, status, header, body)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route, Options: c.opts},
		Status:  status,
		Header:  header,
		Options: c.opts,
	}
	input.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(req.Context(), input)
}

func (c *specChecker) checkUnrouted(routeErr error, status int, header http.Header, body []byte) error {
	want := http.StatusNotFound
	var re *routers.RouteError
	if errors.As(routeErr, &re) && re.Reason == routers.ErrMethodNotAllowed.Error() {
		want = http.StatusMethodNotAllowed
	}
	if status != want {
		return fmt.Errorf("no operation in the document (%v), yet the status is %d, not %d", routeErr, status, want)
	}
	if header.Get("X-Request-ID") == "" {
		return errors.New("no X-Request-ID header")
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return c.doc.Components.Schemas["Error"].Value.VisitJSON(v)
}

// ValidateAgainstSpec fails t (without stopping it) when the response to req
// does not match the OpenAPI document. body is the response's body, already
// read. It never prints the query string (it may hold a password).
func ValidateAgainstSpec(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if err := CheckAgainstSpec(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %.400s",
			req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

// SpecCheckingTransport is an http.RoundTripper that checks every response
// passing through it against the OpenAPI document, recording failures on T.
// The caller still reads the whole body.
type SpecCheckingTransport struct {
	T    testing.TB
	Next http.RoundTripper // nil means http.DefaultTransport
}

// RoundTrip implements http.RoundTripper.
func (s SpecCheckingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	next := s.Next
	if next == nil {
		next = http.DefaultTransport
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	ValidateAgainstSpec(s.T, req, resp, body)
	return resp, nil
}

// SpecCheckingHandler wraps h so that every response it writes is checked
// against the OpenAPI document, for tests that call a handler directly
// (httptest.NewRecorder) instead of going through an http.Client.
func SpecCheckingHandler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		res := rec.Result()
		ValidateAgainstSpec(t, r, res, rec.Body.Bytes())
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes()) //nolint:errcheck // test helper
	})
}

// operations lists the API's operations in the document as "METHOD /path"
// (not the OpenID Connect provider's, tagged oidc).
func operations(doc *openapi3.T) map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "oidc") {
				continue // the provider's, beside the API: OAuth's conventions, not the API's (TestOpenAPIListsTheProvider)
			}
			ops[method+" "+path] = op
		}
	}
	return ops
}

// openapiPath converts a ServeMux pattern to OpenAPI path syntax: {name}
// is the same in both, {name...} and {$} are not.
func openapiPathOf(pattern string) string {
	pattern = strings.ReplaceAll(pattern, "...}", "}")
	return strings.TrimSuffix(pattern, "{$}")
}

func specDoc(t *testing.T) *openapi3.T {
	t.Helper()
	c, err := loadSpecChecker()
	if err != nil {
		t.Fatal(err)
	}
	return c.doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	ctx := context.Background()
	data, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi = %q", doc.OpenAPI)
	}
}

func TestOpenAPIMatchesRouteTable(t *testing.T) {
	documented := operations(specDoc(t))
	routed := map[string]bool{}
	for _, rt := range New(Deps{Logger: zerolog.Nop()}, Options{}).Routes() {
		routed[rt.Method+" "+openapiPathOf(rt.Pattern)] = true
	}
	t.Run("every route is documented", func(t *testing.T) {
		for op := range routed {
			if documented[op] == nil {
				t.Errorf("%s is in the route table but not in the document", op)
			}
		}
	})
	t.Run("every documented operation is routed", func(t *testing.T) {
		for op := range documented {
			if !routed[op] {
				t.Errorf("%s is in the document but not in the route table", op)
			}
		}
	})
}

// TestOpenAPIListsTheProvider: every endpoint of the OpenID Connect
// provider but its internal callback is in the document.
func TestOpenAPIListsTheProvider(t *testing.T) {
	doc := specDoc(t)
	for _, path := range oidcprovider.Paths {
		if path == oidcprovider.PathCallback {
			continue
		}
		if doc.Paths.Find(path) == nil {
			t.Errorf("%s is served by the provider but not in the document", path)
		}
	}
}

// isPublic reports whether the document says op needs no bearer token.
func isPublic(doc *openapi3.T, op *openapi3.Operation) bool {
	if op.Security != nil {
		return len(*op.Security) == 0
	}
	return len(doc.Security) == 0
}

func TestOpenAPIRateLimitsMatchRouteClasses(t *testing.T) {
	ops := operations(specDoc(t))
	for _, rt := range New(Deps{Logger: zerolog.Nop()}, Options{}).Routes() {
		name := rt.Method + " " + openapiPathOf(rt.Pattern)
		op := ops[name]
		if op == nil {
			continue // reported by TestOpenAPIMatchesRouteTable
		}
		var r *openapi3.Response
		if ref := op.Responses.Status(http.StatusTooManyRequests); ref != nil {
			r = ref.Value
		}
		if rt.Class == ClassExempt {
			if r != nil {
				t.Errorf("%s is exempt from rate limits but documents 429", name)
			}
			continue
		}
		for _, h := range []string{"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
			if r == nil || r.Headers[h] == nil {
				t.Errorf("%s: no 429 with %s", name, h)
			}
		}
	}
}

// recordingTB records the failures a helper reports instead of failing.
type recordingTB struct {
	testing.TB
	mu       sync.Mutex
	failures []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recordingTB) failed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failures)
}

const goodTransaction = `{"id": 7, "user_id": 3, "amount": 100.5, "transaction_type": "credit_added",
	"reference_id": "order-1234", "description": null, "created_at": "2025-01-02T03:04:05.123456Z", "new_balance": 150.5}`

// specCase is a response built from the contract's examples.
type specCase struct {
	name, method, path string
	status             int
	body               string
	header             []string
}

// specAccepted are responses the contract allows.
var specAccepted = []specCase{
	{"a transaction", "POST", "/credits/use", 200, goodTransaction, nil},
	{"a page of transactions", "GET", "/credits/transactions?skip=0&limit=50", 200,
		`{"transactions": [` + goodTransaction + `], "total_count": 1, "next_cursor": null}`, nil},
	{"a balance", "GET", "/credits/balance", 200, `{"user_id": 3, "balance": 0.3, "updated_at": "2025-01-02T03:04:05Z", "available": 0.1, "held": 0.2}`, nil},
	{"a validation error", "POST", "/auth/register", 422,
		`{"detail": [{"loc": ["body", "email"], "msg": "bad", "type": "value_error.email"}], "code": "validation_error"}`, nil},
	{"a 401 with WWW-Authenticate", "GET", "/auth/me", 401, `{"detail": "Not authenticated", "code": "not_authenticated"}`,
		[]string{"WWW-Authenticate", "Bearer"}},
	{"a 429 with Retry-After", "POST", "/auth/login", 429, `{"detail": "Too many requests", "code": "rate_limited"}`,
		[]string{"Retry-After", "60", "RateLimit-Limit", "100", "RateLimit-Remaining", "0", "RateLimit-Reset", "60"}},
	{"Prometheus metrics", "GET", "/metrics", 200, "# HELP up x\nup 1\n",
		[]string{"Content-Type", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"}},
	{"metrics switched off", "GET", "/metrics", 404, `{"detail": "Not Found", "code": "not_found"}`, nil},
	{"a user's details", "GET", "/auth/users/alice", 200, `{"username": "alice", "email": "a@example.com", "id": 1, "is_admin": false}`, nil},
}

// specRejected are responses the contract does not allow.
var specRejected = []specCase{
	{"an amount sent as a string", "POST", "/credits/use", 200, strings.NewReplacer(`"amount": 100.5`, `"amount": "100.5"`).Replace(goodTransaction), nil},
	{"an amount with three decimals", "POST", "/credits/add", 200, strings.NewReplacer(`100.5,`, `100.555,`).Replace(goodTransaction), nil},
	{"an unknown transaction type", "POST", "/credits/use", 200, strings.NewReplacer("credit_added", "bonus").Replace(goodTransaction), nil},
	{"a missing new_balance", "POST", "/credits/use", 200, strings.NewReplacer(`, "new_balance": 150.5`, "").Replace(goodTransaction), nil},
	{"an undocumented field", "POST", "/credits/use", 200, strings.NewReplacer(`"id": 7,`, `"id": 7, "password_hash": "x",`).Replace(goodTransaction), nil},
	{"a bad timestamp", "POST", "/credits/use", 200, strings.NewReplacer("2025-01-02T03:04:05.123456Z", "yesterday").Replace(goodTransaction), nil},
	{"a 401 without WWW-Authenticate", "GET", "/auth/me", 401, `{"detail": "Not authenticated", "code": "not_authenticated"}`, nil},
	{"a 429 without Retry-After", "POST", "/auth/login", 429, `{"detail": "Too many requests", "code": "rate_limited"}`, nil},
	{"an error without code", "GET", "/auth/me", 403, `{"detail": "Forbidden"}`, nil},
	{"a 422 whose detail is a string", "POST", "/auth/register", 422, `{"detail": "bad", "code": "validation_error"}`, nil},
	{"an undocumented status", "GET", "/credits/balance", 500, `{"detail": "Internal server error", "code": "internal"}`, nil},
	{"a status the operation cannot answer", "GET", "/healthz", 404, `{"detail": "Not Found", "code": "not_found"}`, nil},
	{"a success on an unknown path", "GET", "/nope", 200, `{}`, nil},
	{"an unknown path without the error body", "GET", "/nope", 404, `404 page not found`, nil},
}

func TestSpecValidatorOnContractExamples(t *testing.T) {
	check := func(method, path string, status int, body string, header ...string) error {
		h := http.Header{}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("X-Request-ID", "abc")
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return CheckAgainstSpec(httptest.NewRequest(method, path, nil), status, h, []byte(body))
	}
	for _, c := range specAccepted {
		t.Run("accepts "+c.name, func(t *testing.T) {
			if err := check(c.method, c.path, c.status, c.body, c.header...); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, c := range specRejected {
		t.Run("rejects "+c.name, func(t *testing.T) {
			err := check(c.method, c.path, c.status, c.body, c.header...)
			if err == nil {
				t.Fatal("accepted")
			}
			t.Logf("rejected: %v", err)
		})
	}
	t.Run("rejects a response without X-Request-ID", func(t *testing.T) {
		req := httptest.NewRequest("GET", "/healthz", nil)
		h := http.Header{"Content-Type": {"application/json"}}
		if CheckAgainstSpec(req, 200, h, []byte(`{"status": "ok"}`)) == nil {
			t.Fatal("accepted")
		}
	})
}

// newSpecServer serves the API with no services behind it: only requests
// that are answered before a service is called may be sent to it.
func newSpecServer(t *testing.T, ready func(context.Context) error) (*httptest.Server, *http.Client) {
	srv := httptest.NewServer(New(Deps{Logger: zerolog.Nop(), Ready: ready}, Options{}).Handler())
	t.Cleanup(srv.Close)
	return srv, &http.Client{Transport: SpecCheckingTransport{T: t}}
}

func send(t *testing.T, client *http.Client, method, url, contentType, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body) //nolint:errcheck // drained for reuse
	res.Body.Close()
	return res
}

func TestSpecCheckingTransportOnTheServer(t *testing.T) {
	srv, client := newSpecServer(t, nil)
	doc := specDoc(t)
	ops := operations(doc)
	expect := func(t *testing.T, res *http.Response, status int) {
		t.Helper()
		if res.StatusCode != status {
			t.Fatalf("%s %s = %d, want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, status)
		}
	}
	t.Run("health, documents, unknown paths and wrong methods match", func(t *testing.T) {
		expect(t, send(t, client, "GET", srv.URL+"/healthz", "", ""), 200)
		expect(t, send(t, client, "GET", srv.URL+"/readyz", "", ""), 200)
		expect(t, send(t, client, "GET", srv.URL+"/openapi.json", "", ""), 200)
		expect(t, send(t, client, "GET", srv.URL+"/docs", "", ""), 200)
		expect(t, send(t, client, "GET", srv.URL+"/docs/swagger-ui.css", "", ""), 200)
		expect(t, send(t, client, "GET", srv.URL+"/docs/nope.js", "", ""), 404)
		expect(t, send(t, client, "GET", srv.URL+"/nope", "", ""), 404)
		expect(t, send(t, client, "DELETE", srv.URL+"/auth/register", "", ""), 405)
	})
	t.Run("not ready matches", func(t *testing.T) {
		down, client := newSpecServer(t, func(context.Context) error { return errors.New("db down") })
		expect(t, send(t, client, "GET", down.URL+"/readyz", "", ""), 503)
	})
	t.Run("every protected operation answers a documented 401 without a token", func(t *testing.T) {
		for name := range ops {
			if isPublic(doc, ops[name]) {
				continue
			}
			method, path, _ := strings.Cut(name, " ")
			path = strings.ReplaceAll(path, "{username}", "alice")
			expect(t, send(t, client, method, srv.URL+path, "application/json", `{}`), 401)
		}
	})
	t.Run("public JSON endpoints answer documented 415, 422 and 413", func(t *testing.T) {
		big := `{"email": "` + strings.Repeat("a", maxBodyBytes) + `"}`
		for name, op := range ops {
			if !isPublic(doc, op) || op.RequestBody == nil {
				continue
			}
			_, path, _ := strings.Cut(name, " ")
			expect(t, send(t, client, "POST", srv.URL+path, "text/plain", "hello"), 415)
			expect(t, send(t, client, "POST", srv.URL+path, "application/json", `{"amount": `), 422)
			expect(t, send(t, client, "POST", srv.URL+path, "application/json", big), 413)
		}
	})
	t.Run("rate-limited answers and real metrics match", func(t *testing.T) {
		limited := httptest.NewServer(New(Deps{Logger: zerolog.Nop(), Metrics: promhttp.Handler()}, Options{
			RouteMiddleware: []func(Route, http.Handler) http.Handler{RateLimit(RateLimitConfig{
				Limiter: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
				Auth:    ratelimit.PerMinute(1), Default: ratelimit.PerMinute(1), Logger: zerolog.Nop()})},
		}).Handler())
		defer limited.Close()
		expect(t, send(t, client, "POST", limited.URL+"/auth/login", "text/plain", "x"), 415)
		expect(t, send(t, client, "POST", limited.URL+"/auth/login", "text/plain", "x"), 429)
		expect(t, send(t, client, "GET", limited.URL+"/auth/me", "", ""), 401)
		expect(t, send(t, client, "GET", limited.URL+"/credits/balance", "", ""), 429)
		for range 3 {
			expect(t, send(t, client, "GET", limited.URL+"/metrics", "", ""), 200)
		}
		expect(t, send(t, client, "GET", srv.URL+"/metrics", "", ""), 404) // metrics off
	})
}

func TestSpecHelpersRecordFailures(t *testing.T) {
	t.Run("a response that departs from the document is recorded", func(t *testing.T) {
		liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-ID", "x")
			writeJSON(w, 200, map[string]any{"user_id": 1, "balance": "12.50", "updated_at": "2025-01-02T03:04:05Z"})
		}))
		defer liar.Close()
		rec := &recordingTB{TB: t}
		res, err := (&http.Client{Transport: SpecCheckingTransport{T: rec}}).Get(liar.URL + "/credits/balance")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(rec.failed()) != 1 || !strings.Contains(rec.failed()[0], "balance") {
			t.Fatalf("failures: %q", rec.failed())
		}
		if !bytes.Contains(body, []byte(`"12.50"`)) {
			t.Fatalf("the caller did not get the body: %q", body)
		}
	})
	t.Run("the handler wrapper records too", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		h := SpecCheckingHandler(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-ID", "x")
			writeJSON(w, 200, map[string]string{"status": "sick"})
		}))
		out := httptest.NewRecorder()
		h.ServeHTTP(out, httptest.NewRequest("GET", "/healthz", nil))
		if len(rec.failed()) != 1 || out.Code != 200 || !strings.Contains(out.Body.String(), "sick") {
			t.Fatalf("failures %q, passed on %d %s", rec.failed(), out.Code, out.Body)
		}
	})
}

func TestDocsPage(t *testing.T) {
	srv, client := newSpecServer(t, nil)
	res, err := client.Get(srv.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /docs = %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9][a-z0-9.-]*\.[a-z]{2,}|https?://[a-z0-9]`).FindAllString(string(body), -1); len(m) > 0 {
		t.Fatalf("the page names external URLs: %q", m)
	}
	if !bytes.Contains(body, []byte(`src="/docs/swagger-ui-bundle.js"`)) {
		t.Fatal("the page does not load Swagger UI from /docs/")
	}
}
