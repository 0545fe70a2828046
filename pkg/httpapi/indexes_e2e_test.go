package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/jmoiron/sqlx"
)

// indexedRows is how many rows the request-path tables get before the
// workload: enough that PostgreSQL's planner prefers an index wherever one
// fits, so a sequential scan below means a query that has none.
const indexedRows = 20_000

// Every query on the request path uses an index. Rather than EXPLAIN a list of
// queries kept by hand (which goes stale as queries are added), the test
// fills the tables, runs every endpoint through serve's wiring on PostgreSQL,
// and then reads what the server itself counted before and after: no table of
// thousands of rows may have been read by a sequential scan
// (pg_stat_user_tables.seq_scan), and the busy tables must have been read
// through their indexes.
func TestRequestPathUsesIndexes(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	// Migrate on connections that end (and so report their scans, index
	// builds included) before anything is measured.
	storetest.Open(t, dbURL).Close()
	db := storetest.SQLFor(t, dbURL) // one connection of the test's own
	db.SetMaxOpenConns(1)
	load := []string{
		`INSERT INTO users (username, email, password_hash, created_at, updated_at)
			SELECT 'filler' || g, 'filler' || g || '@example.com', 'x', now(), now() FROM generate_series(1, $1) g`,
		`INSERT INTO user_credits (user_id, balance, held, updated_at) SELECT id, 100, 1, now() FROM users`,
		`INSERT INTO credit_holds (user_id, amount, status, created_at, expires_at)
			SELECT id, 1, 'pending', now(), now() + interval '1 hour' FROM users`,
		`INSERT INTO credit_transactions (user_id, amount, transaction_type, balance_after, created_at, seq)
			SELECT u.id, 100, 'credit_added', 100, now(), s FROM users u, generate_series(1, 5) s`,
		`INSERT INTO revoked_tokens (jti, expires_at) SELECT 'jti' || g, now() + interval '1 hour' FROM generate_series(1, $1) g`,
		`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, used, created_at)
			SELECT id, 'hash' || id, now() + interval '1 hour', false, now() FROM users`,
		`INSERT INTO login_failures (username, window_start, failures) SELECT 'filler' || g, now(), 1 FROM generate_series(1, $1) g`,
		`INSERT INTO email_outbox (kind, recipient, data, status, next_attempt_at, created_at)
			SELECT 'welcome', 'filler' || g || '@example.com', '{}', 'sent', now(), now() FROM generate_series(1, $1) g`,
		`INSERT INTO sessions (id, user_id, created_at, refreshed_at, expires_at)
			SELECT 'sess' || id, id, now(), now(), now() + interval '1 hour' FROM users`,
		`INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at, used, created_at)
			SELECT id, email, 'vhash' || id, now() + interval '1 day', false, now() FROM users`,
		`INSERT INTO audit_events (created_at, event, actor_id, target_id, details)
			SELECT now(), 'login.succeeded', id, id, '{}' FROM users`,
	}
	for _, q := range load {
		args := []any{}
		if strings.Contains(q, "$1") {
			args = append(args, indexedRows)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("load: %v\n%s", err, q)
		}
	}
	if _, err := db.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, dbURL, envConfig{}) // serve's wiring: its start-up reads only small tables
	before := scanCounts(t, db)

	// The workload: every endpoint that touches the database, successes and
	// refusals alike.
	root := e.admin("root")
	alice := e.register("alice")
	e.login("alice", "wrong-password-1").want(t, http.StatusUnauthorized, "invalid_credentials")
	e.login("nobody_here", "wrong-password-1").want(t, http.StatusUnauthorized, "invalid_credentials")
	alice.Token = e.token("alice", alice.Password)
	e.do("GET", "/auth/me", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("GET", fmt.Sprintf("/auth/me?user_id=%d", alice.ID), nil, root.Token).want(t, http.StatusOK, "")
	e.do("GET", "/auth/users/alice", nil, root.Token).want(t, http.StatusOK, "")
	e.do("POST", "/credits/add", map[string]any{"amount": 50, "username": "alice", "reference_id": "grant-1"}, root.Token).
		want(t, http.StatusOK, "")
	e.do("POST", "/credits/add", map[string]any{"amount": 50, "username": "alice", "reference_id": "grant-1"}, root.Token).
		want(t, http.StatusOK, "") // the idempotent repeat
	for i := range 3 {
		e.do("POST", "/credits/use", map[string]any{"amount": 1, "reference_id": fmt.Sprint("use-", i)}, alice.Token).
			want(t, http.StatusOK, "")
	}
	e.do("POST", "/credits/use", map[string]any{"amount": 1000}, alice.Token).want(t, http.StatusBadRequest, "insufficient_credits")
	e.do("GET", "/credits/balance", nil, alice.Token).want(t, http.StatusOK, "")
	page := e.do("GET", "/credits/transactions?limit=2", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("GET", "/credits/transactions?skip=2&limit=2", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("GET", "/credits/transactions?limit=2&cursor="+page["next_cursor"].(string), nil, alice.Token).want(t, http.StatusOK, "")
	hold := e.do("POST", "/credits/holds", map[string]any{"amount": 5, "reference_id": "hold-1"}, alice.Token).
		want(t, http.StatusCreated, "")
	e.do("POST", "/credits/holds", map[string]any{"amount": 5, "reference_id": "hold-1"}, alice.Token).
		want(t, http.StatusOK, "") // the idempotent repeat
	e.do("POST", "/credits/holds", map[string]any{"amount": 1000}, alice.Token).want(t, http.StatusBadRequest, "insufficient_credits")
	holdPage := e.do("GET", "/credits/holds?status=pending&limit=1", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("GET", fmt.Sprintf("/credits/holds?limit=1&after=%v", holdPage["holds"].([]any)[0].(map[string]any)["id"]), nil, alice.Token).
		want(t, http.StatusOK, "")
	capture := fmt.Sprintf("/credits/holds/%v/capture", hold["id"])
	e.do("POST", capture, map[string]any{"amount": 2, "reference_id": "hold-1-done"}, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", capture, map[string]any{"amount": 2, "reference_id": "hold-1-done"}, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", capture, nil, alice.Token).want(t, http.StatusConflict, "hold_not_pending")
	other := e.do("POST", "/credits/holds", map[string]any{"amount": 1}, alice.Token).want(t, http.StatusCreated, "")
	e.do("POST", fmt.Sprintf("/credits/holds/%v/void", other["id"]), nil, alice.Token).want(t, http.StatusOK, "")
	refreshed := e.do("POST", "/auth/refresh", map[string]string{"token": alice.Token}, "").want(t, http.StatusOK, "")
	alice.Token = refreshed["access_token"].(string)
	e.secret(alice.Token)
	e.do("POST", "/auth/logout", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("GET", "/auth/me", nil, alice.Token).want(t, http.StatusUnauthorized, "")
	alice.Token = e.token("alice", alice.Password)
	newPassword := "a-new-Passw0rd-for-alice"
	e.secret(newPassword)
	e.do("PUT", "/auth/users/alice/password", map[string]string{"current_password": alice.Password, "new_password": newPassword},
		alice.Token).want(t, http.StatusOK, "")
	e.do("POST", "/auth/password-reset-request", map[string]string{"email": alice.Email}, "").want(t, http.StatusOK, "")
	resetToken := latestResetToken(t, e, db)
	e.do("POST", "/auth/password-reset-request", map[string]string{"email": "nobody@example.com"}, "").want(t, http.StatusOK, "")
	alice.Password = "a-reset-Passw0rd-for-alice"
	e.secret(alice.Password)
	e.do("POST", "/auth/reset-password", map[string]string{"token": resetToken, "new_password": alice.Password}, "").
		want(t, http.StatusOK, "")
	alice.Token = e.token("alice", alice.Password)
	e.do("PUT", "/auth/users/alice/email", map[string]string{"new_email": "alice.new@example.com", "current_password": alice.Password},
		alice.Token).want(t, http.StatusOK, "")
	alice.Token = e.token("alice", alice.Password)
	// Verification, sessions, logout scopes, the audit trail.
	e.do("POST", "/auth/verify-email", map[string]string{"token": latestLinkToken(t, e, db, "/verify-email?token=")}, "").
		want(t, http.StatusOK, "")
	e.do("POST", "/auth/verify-email", map[string]string{"token": "no-such-token"}, "").want(t, http.StatusBadRequest, "invalid_token")
	e.do("POST", "/auth/verify-email/resend", map[string]string{"email": "alice.new@example.com"}, "").want(t, http.StatusOK, "")
	e.do("POST", "/auth/verify-email/resend", map[string]string{"email": "nobody@example.com"}, "").want(t, http.StatusOK, "")
	alice.Token = e.token("alice", alice.Password)
	second := e.token("alice", alice.Password)
	e.do("GET", "/auth/sessions", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("DELETE", "/auth/sessions/"+sidOf(t, second), nil, alice.Token).want(t, http.StatusOK, "")
	e.do("DELETE", "/auth/sessions/sess1", nil, alice.Token).want(t, http.StatusNotFound, "session_not_found")
	e.token("alice", alice.Password)
	e.do("POST", "/auth/logout?scope=others", nil, alice.Token).want(t, http.StatusOK, "")
	e.do("POST", "/auth/logout?scope=global", nil, alice.Token).want(t, http.StatusOK, "")
	alice.Token = e.token("alice", alice.Password)
	first := e.do("GET", "/admin/audit?limit=5", nil, root.Token).want(t, http.StatusOK, "")
	e.do("GET", "/admin/audit?limit=5&cursor="+first["next_cursor"].(string), nil, root.Token).want(t, http.StatusOK, "")
	e.do("GET", "/admin/audit?user=alice", nil, root.Token).want(t, http.StatusOK, "")
	e.do("GET", "/admin/audit?event=logout&limit=5", nil, root.Token).want(t, http.StatusOK, "")
	e.do("DELETE", "/auth/users/alice", map[string]string{"password": alice.Password}, alice.Token).want(t, http.StatusOK, "")
	e.Auth.Wait() // the reset requests' rows are written after their responses

	// A backend reports its counters when it exits: end the service's
	// connections, then read the counters again.
	_, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, db, `SELECT COUNT(*) = 0 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	after := scanCounts(t, db)
	for table, a := range after {
		b := before[table]
		seq, idx := a.seq-b.seq, a.idx-b.idx
		t.Logf("%-24s %7.0f rows  %3d sequential scans  %4d index scans", table, a.rows, seq, idx)
		if a.rows >= indexedRows/2 && seq > 0 {
			t.Errorf("%s (%.0f rows) was read by %d sequential scan(s) on the request path: a query without an index", table, a.rows, seq)
		}
	}
	for _, table := range []string{"users", "user_credits", "credit_transactions", "credit_holds", "revoked_tokens", "login_failures", "password_reset_tokens",
		"sessions", "email_verification_tokens", "audit_events"} {
		if after[table].idx == before[table].idx {
			t.Errorf("%s: no index scan counted; the workload or the counters did not reach it", table)
		}
	}
}

// latestResetToken reads the token of the newest queued email, which must be
// a reset link, through the primary key (the harness's own lookup filters on
// the kind, which is not what the service does and not indexed).
func latestResetToken(t *testing.T, e *env, db *sqlx.DB) string {
	t.Helper()
	e.Auth.Wait() // the reset email is queued after the response
	var data string
	if err := db.Get(&data, `SELECT data FROM email_outbox ORDER BY id DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(data), &m); err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(m["link"])
	if err != nil || link.Query().Get("token") == "" {
		t.Fatalf("the newest email is not a reset link: %s", data)
	}
	tok := link.Query().Get("token")
	e.secret(tok)
	return tok
}

// latestLinkToken reads the token of the newest queued email whose link
// contains marker, through the primary key.
func latestLinkToken(t *testing.T, e *env, db *sqlx.DB, marker string) string {
	t.Helper()
	e.Auth.Wait()
	var rows []string
	if err := db.Select(&rows, `SELECT data FROM email_outbox ORDER BY id DESC LIMIT 10`); err != nil {
		t.Fatal(err)
	}
	for _, data := range rows {
		var m map[string]string
		if err := json.Unmarshal([]byte(data), &m); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m["link"], marker) {
			link, err := url.Parse(m["link"])
			if err != nil {
				t.Fatal(err)
			}
			tok := link.Query().Get("token")
			e.secret(tok)
			return tok
		}
	}
	t.Fatalf("no recent email links to %s", marker)
	return ""
}

// tableScans is what PostgreSQL counted for one table: its size as of the
// last ANALYZE and the scans of it so far.
type tableScans struct {
	rows     float64
	seq, idx int64
}

// scanCounts reads every table's scan counters, this connection's own
// included. (Other backends report theirs up to 10 s after they go idle, and
// at exit.)
func scanCounts(t *testing.T, db *sqlx.DB) map[string]tableScans {
	t.Helper()
	if _, err := db.Exec(`SELECT pg_stat_force_next_flush()`); err != nil { // reported when it goes idle
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT s.relname, c.reltuples, s.seq_scan, COALESCE(s.idx_scan, 0)
		FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]tableScans{}
	for rows.Next() {
		var name string
		var s tableScans
		if err := rows.Scan(&name, &s.rows, &s.seq, &s.idx); err != nil {
			t.Fatal(err)
		}
		out[name] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitFor polls the boolean query until it is true (at most 15 s).
func waitFor(t *testing.T, db *sqlx.DB, query string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var ok bool
		if err := db.Get(&ok, query); err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after 15 s: %s", query)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
