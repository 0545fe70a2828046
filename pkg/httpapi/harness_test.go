package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/authsvc/authsvc/internal/testkit"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authsvc/authsvc/cmd"
	"github.com/authsvc/authsvc/pkg/account"
	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/httpapi"
	"github.com/authsvc/authsvc/pkg/password"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
	"github.com/jmoiron/sqlx"
	"github.com/rs/zerolog"
)

// The end-to-end harness: for each backend a fresh database and the REAL
// wiring of `authsvc serve` (cmd.Build; bcrypt at cost 4 in tests), served by
// httptest.NewServer. Every response is checked for leaked passwords and
// hashes, and at cleanup the captured log for leaked passwords and tokens.

const (
	testSecret      = "test-secret-that-is-at-least-32-bytes-long!"
	testFrontendURL = "https://app.example.test"
)

// testClock is a movable clock shared by the store, the token issuer and
// the use cases: real time plus an offset.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// countingHasher wraps the real hasher to prove structurally which bcrypt
// work a request did.
type countingHasher struct {
	domain.PasswordHasher
	compares, dummies atomic.Int64
}

func (h *countingHasher) Compare(hash, pw string) error {
	h.compares.Add(1)
	return h.PasswordHasher.Compare(hash, pw)
}

func (h *countingHasher) CompareDummy(pw string) {
	h.dummies.Add(1)
	h.PasswordHasher.CompareDummy(pw)
}

// env is one running authsvc on one database.
type env struct {
	t       testing.TB
	URL     string
	DB      *storetest.DB
	Auth    *account.Service
	Tokens  *token.Issuer
	Hasher  *countingHasher
	Clock   *testClock
	Handler http.Handler
	Stack   *cmd.Stack // what serve runs; Handler is its handler
	logs    *testkit.SyncBuffer
	Queries *storetest.Counter // statements sent to the database
	dbURL   string

	mu      sync.Mutex
	secrets map[string]bool // passwords and tokens that must never be logged
	sqlPool *sqlx.DB
}

// envConfig tunes newEnv.
type envConfig struct {
	cost      int
	authOpts  account.Options // non-zero fields override the use cases' options
	noServer  bool            // handler only (fuzzing, benchmarks)
	logLevel  zerolog.Level
	accessTTL time.Duration
	// config adjusts the configuration before the stack is built (e.g.
	// lower rate limits, credits.user_self_add, CORS origins).
	config func(*config.Config)
	jobs   bool // run serve's background jobs (outbox worker, janitor)
}

// forEachBackend runs fn on SQLite and on PostgreSQL, each with a fresh env.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { fn(t, newEnv(t, b.URL(t), envConfig{})) })
	}
}

// newEnv boots on the database at dbURL the same wiring `authsvc serve`
// runs (cmd.Build: middleware, per-IP rate limits, metrics, CORS, the access
// log), with a test configuration: bcrypt at cost 4, a fixed secret, the
// test clock, generous rate limits and database deadline (a test may lower
// them with envConfig.config). The background jobs do not run unless envConfig.jobs.
func newEnv(t testing.TB, dbURL string, cfg envConfig) *env {
	t.Helper()
	if cfg.cost == 0 {
		cfg.cost = password.MinCost
	}
	if cfg.accessTTL == 0 {
		cfg.accessTTL = time.Hour
	}
	if cfg.accessTTL%time.Minute != 0 {
		t.Fatalf("envConfig.accessTTL %s: auth.access_token_expire_minutes takes whole minutes", cfg.accessTTL)
	}
	conf, err := config.Load(config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conf.Database.URL = dbURL
	conf.Database.AutoMigrate = true
	conf.Auth.SecretKey = testSecret
	conf.Auth.BcryptCost = cfg.cost
	conf.Auth.AccessTokenExpireMinutes = int(cfg.accessTTL / time.Minute)
	conf.Mail.FrontendURL = testFrontendURL
	conf.RateLimit.AuthPerMinute, conf.RateLimit.DefaultPerMinute = 1_000_000, 1_000_000
	// A test machine running the whole suite may be far slower than a
	// server: bursts of 100+ concurrent requests on one row must queue, not
	// hit the production deadline (tests of the deadline set their own).
	conf.Database.QueryTimeout = time.Minute
	if cfg.config != nil {
		cfg.config(conf)
	}
	e := &env{t: t, Clock: &testClock{}, logs: &testkit.SyncBuffer{}, secrets: map[string]bool{}, dbURL: dbURL,
		Queries: storetest.NewCounter()}
	logger := zerolog.New(e.logs).Level(cfg.logLevel).With().Timestamp().Logger()
	stack, err := cmd.Build(context.Background(), conf, cmd.BuildOptions{
		Logger: &logger,
		Clock:  e.Clock.Now,
		WrapHasher: func(h domain.PasswordHasher) domain.PasswordHasher {
			e.Hasher = &countingHasher{PasswordHasher: h}
			return e.Hasher
		},
		AuthOptions: func(o *account.Options) { overrideAuthOptions(o, cfg.authOpts) },
		WrapDriver:  e.Queries.Wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stack.Close) // waits for background reset work, then closes the database
	e.Stack, e.DB, e.Auth, e.Tokens, e.Handler = stack, stack.DB, stack.Auth, stack.Tokens, stack.Handler
	if cfg.jobs {
		t.Cleanup(stack.StartJobs(context.Background()))
	}
	if !cfg.noServer {
		srv := httptest.NewServer(e.Handler)
		t.Cleanup(srv.Close)
		e.URL = srv.URL
	}
	t.Cleanup(e.checkLogs)
	return e
}

// overrideAuthOptions sets the non-zero fields of o2 over o (envConfig.authOpts
// wins over the configuration's values).
func overrideAuthOptions(o *account.Options, o2 account.Options) {
	if o2.MaxSession > 0 {
		o.MaxSession = o2.MaxSession
	}
	if o2.FrontendURL != "" {
		o.FrontendURL = o2.FrontendURL
	}
	if o2.FailedLoginLimit > 0 {
		o.FailedLoginLimit = o2.FailedLoginLimit
	}
	if o2.FailedLoginWindow > 0 {
		o.FailedLoginWindow = o2.FailedLoginWindow
	}
	if o2.ResetEmailInterval > 0 {
		o.ResetEmailInterval = o2.ResetEmailInterval
	}
	if o2.Metrics != nil {
		o.Metrics = o2.Metrics
	}
	if o2.RequireVerifiedEmail {
		o.RequireVerifiedEmail = true
	}
}

// secret records a password or token that must never appear in a log (and
// for passwords, never in a response).
func (e *env) secret(s string) {
	if len(s) < 8 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz") == "" {
		return // too short or a plain word ("password") that field names contain
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets[s] = true
}

func (e *env) checkLogs() {
	logs := e.logs.String()
	// The audit trail is held to the same rule as the log: no password,
	// token or hash in any event, whatever the test did.
	var rows []string
	if err := storetest.SQLFor(e.t, e.dbURL).Select(&rows, `SELECT event || ' ' || user_agent || ' ' || details FROM audit_events`); err != nil {
		e.t.Errorf("read the audit trail: %v", err)
	}
	logs += "\n" + strings.Join(rows, "\n")
	e.mu.Lock()
	defer e.mu.Unlock()
	for s := range e.secrets {
		if strings.Contains(logs, s) {
			e.t.Errorf("the log contains a password or token (%d bytes, starting %q)", len(s), s[:4])
		}
	}
	if strings.Contains(logs, "$2a$") || strings.Contains(logs, "$2b$") {
		e.t.Error("the log contains a bcrypt hash")
	}
}

// response is a finished HTTP exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// form marks a body sent as application/x-www-form-urlencoded.
type form url.Values

// rawJSON is a body sent verbatim as application/json.
type rawJSON string

// do sends a request with an optional body (form, rawJSON, or any value
// marshalled to JSON) and bearer token, and checks that the response leaks
// no password or hash.
func (e *env) do(method, path string, body any, bearer string) *response {
	e.t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case form:
		for _, k := range []string{"password"} {
			e.secret(url.Values(b).Get(k))
		}
		rd, ctype = strings.NewReader(url.Values(b).Encode()), "application/x-www-form-urlencoded"
	case rawJSON:
		rd, ctype = strings.NewReader(string(b)), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ctype = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.send(req)
}

// send sends req, checks the response body for secrets and validates it
// against the OpenAPI document.
func (e *env) send(req *http.Request) *response {
	e.t.Helper()
	return e.sendWith(http.DefaultClient, req)
}

// sendWith is send through c.
func (e *env) sendWith(c *http.Client, req *http.Request) *response {
	e.t.Helper()
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.checkResponse(data)
	httpapi.ValidateAgainstSpec(e.t, req, res, data)
	return &response{Status: res.StatusCode, Header: res.Header, Body: data}
}

// checkResponse fails when a body contains a known password or a hash.
func (e *env) checkResponse(body []byte) {
	e.t.Helper()
	s := string(body)
	if strings.Contains(s, "$2a$") || strings.Contains(s, "$2b$") || strings.Contains(s, "password_hash") {
		e.t.Errorf("response contains a hash: %s", s)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for sec := range e.secrets {
		if !strings.HasPrefix(sec, "eyJ") && strings.Contains(s, sec) {
			e.t.Errorf("response contains a password: %s", s)
		}
	}
}

// json decodes the body into a map.
func (r *response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.Body, err)
	}
	return m
}

// want fails unless the status is status; for errors it also checks that
// the body is {detail, code} with the given code ("" skips the code).
func (r *response) want(t testing.TB, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	m := r.json(t)
	if status >= 400 {
		if _, ok := m["detail"]; !ok {
			t.Fatalf("error body without detail: %s", r.Body)
		}
		if code != "" && m["code"] != code {
			t.Fatalf("code = %v, want %q; body %s", m["code"], code, r.Body)
		}
		if status == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Fatalf("401 without WWW-Authenticate: Bearer")
		}
	}
	return m
}

// user is a registered account and its current token.
type user struct {
	Name, Email, Password, Token string
	ID                           int64
}

// register creates an account through the API and returns it with its token.
func (e *env) register(name string) *user {
	e.t.Helper()
	u := &user{Name: name, Email: strings.ToLower(name) + "@example.com", Password: "pw-" + name + "-Xq7!zz"}
	e.secret(u.Password)
	m := e.do("POST", "/auth/register", map[string]string{"username": u.Name, "email": u.Email, "password": u.Password}, "").
		want(e.t, http.StatusCreated, "")
	u.Token = m["access_token"].(string)
	e.secret(u.Token)
	row, err := e.DB.UserByUsername(context.Background(), name)
	if err != nil {
		e.t.Fatal(err)
	}
	u.ID = row.ID
	return u
}

// admin registers an account and makes it an admin.
func (e *env) admin(name string) *user {
	e.t.Helper()
	u := e.register(name)
	if _, err := e.Auth.SetAdmin(context.Background(), name, true); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// login logs in with the form and returns the response.
func (e *env) login(name, pw string) *response {
	e.t.Helper()
	e.secret(pw)
	r := e.do("POST", "/auth/login", form{"username": {name}, "password": {pw}}, "")
	if r.Status == http.StatusOK {
		m := r.json(e.t)
		for _, k := range []string{"access_token", "mfa_token"} {
			if tok, ok := m[k].(string); ok {
				e.secret(tok)
			}
		}
	}
	return r
}

// token logs in and returns the access token.
func (e *env) token(name, pw string) string {
	e.t.Helper()
	return e.login(name, pw).want(e.t, http.StatusOK, "")["access_token"].(string)
}

// me calls GET /auth/me with tok and returns the status.
func (e *env) me(tok string) int {
	e.t.Helper()
	return e.do("GET", "/auth/me", nil, tok).Status
}

// lastResetToken requests a reset for u and returns the token of the link
// queued in the outbox.
func (e *env) lastResetToken(u *user) string {
	e.t.Helper()
	e.Auth.Wait() // reset emails are queued after the response
	var data string
	err := e.SQL().Get(&data, `SELECT data FROM email_outbox WHERE kind = 'password_reset' ORDER BY id DESC LIMIT 1`)
	if err != nil {
		e.t.Fatalf("no reset email queued: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		e.t.Fatal(err)
	}
	link, err := url.Parse(m["link"])
	if err != nil || !strings.HasPrefix(m["link"], testFrontendURL+"/reset-password?token=") {
		e.t.Fatalf("reset link %q is not under %s", m["link"], testFrontendURL)
	}
	tok := link.Query().Get("token")
	e.secret(tok)
	return tok
}

// requestReset asks for a reset email for u and returns the new token.
func (e *env) requestReset(u *user) string {
	e.t.Helper()
	e.do("POST", "/auth/password-reset-request", map[string]string{"email": u.Email}, "").want(e.t, http.StatusOK, "")
	return e.lastResetToken(u)
}

// outboxCount counts queued emails of a kind.
func (e *env) outboxCount(kind string) int {
	e.t.Helper()
	e.Auth.Wait() // reset emails are queued after the response
	var n int
	if err := e.SQL().Get(&n, e.SQL().Rebind(`SELECT COUNT(*) FROM email_outbox WHERE kind = ?`), kind); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// SQL is a pool of its own on the test database, for reading and writing
// rows directly (the store never hands out its pool).
func (e *env) SQL() *sqlx.DB {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.sqlPool == nil {
		e.sqlPool = storetest.SQLFor(e.t, e.dbURL)
	}
	return e.sqlPool
}
