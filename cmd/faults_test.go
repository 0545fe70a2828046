package cmd_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// Production faults, each against the real binary and a real PostgreSQL:
// a transaction pooler (PgBouncer), a read-only database, a frozen one.

// apiResponse is one HTTP answer.
type apiResponse struct {
	code   int
	body   string
	header http.Header
}

// call sends a JSON request (body nil for none) with an optional bearer
// token; the client gives up after 20 s so a hung server fails the test
// instead of stalling it.
func (s *server) call(t testing.TB, method, path, token string, body any) apiResponse {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResponse{code: resp.StatusCode, body: string(b), header: resp.Header}
}

// errorCode is the "code" of an error body.
func (r apiResponse) errorCode() string {
	var body struct {
		Code string `json:"code"`
	}
	json.Unmarshal([]byte(r.body), &body) //nolint:errcheck // "" when not an error body
	return body.Code
}

// register creates a user through the API and returns its access token.
func (s *server) register(t testing.TB, name string) string {
	t.Helper()
	r := s.call(t, "POST", "/auth/register", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": testPassword})
	if r.code != 201 {
		t.Fatalf("register %s: %d %s", name, r.code, r.body)
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil || out.AccessToken == "" {
		t.Fatalf("register %s: no token in %s", name, r.body)
	}
	return out.AccessToken
}

// withPort returns the PostgreSQL URL u pointed at 127.0.0.1:port.
func withPort(t testing.TB, u string, port int) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Host = "127.0.0.1:" + strconv.Itoa(port)
	return parsed.String()
}

// startPgBouncer runs a PgBouncer in pool mode mode in front of the test
// PostgreSQL server (127.0.0.1:5432) and returns its port. It skips when
// pgbouncer is not installed, unless AUTHSVC_TEST_REQUIRE_POSTGRES=1 (CI,
// where .ci/run installs it). As root it runs as the postgres user
// (PgBouncer refuses to run as root).
func startPgBouncer(t *testing.T, mode string) int {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr == nil {
			bin = "/usr/sbin/pgbouncer"
		} else if storetest.RequirePostgres() {
			t.Fatal("pgbouncer is required (AUTHSVC_TEST_REQUIRE_POSTGRES=1) but not installed; apt-get install pgbouncer")
		} else {
			t.Skip("pgbouncer not installed (apt-get install pgbouncer); skipping the PgBouncer tests")
		}
	}
	dir, err := os.MkdirTemp("", "authsvc-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // the postgres user writes its log here
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(strings.TrimPrefix(testkit.FreeAddr(t), "127.0.0.1:"))
	ini := fmt.Sprintf(`[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
max_client_conn = 500
default_pool_size = 40
ignore_startup_parameters = extra_float_digits
; session mode holds a server connection per client connection: room for
; authsvc's 32 and the CLI's.
logfile = %s
`, port, filepath.Join(dir, "userlist.txt"), mode, filepath.Join(dir, "pgbouncer.log"))
	for name, text := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": `"postgres" ""` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PgBouncer needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	out := &testkit.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // killed at cleanup
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Logf("pgbouncer output:\n%s\n%s", out.String(), log)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			return port
		}
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited:\n%s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not listen within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Behind PgBouncer in transaction mode (prepared statements off) and in
// session mode (on): register, login, /auth/me, 32-way concurrent debits
// and a CLI grant, without one error.
func TestBehindPgBouncer(t *testing.T) {
	for _, tc := range []struct{ mode, prepared string }{{"transaction", "off"}, {"session", "on"}} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			direct := storetest.PostgresURL(t)
			// Migrations take a session-level advisory lock: run them on a
			// direct connection (README: "Behind PgBouncer").
			if r := newCLI(t, direct).run("migrate", "up"); r.code != 0 {
				t.Fatalf("migrate up: %+v", r)
			}
			pooled := withPort(t, direct, startPgBouncer(t, tc.mode))
			c := newCLI(t, pooled, "AUTHSVC_DATABASE_AUTO_MIGRATE=false",
				"AUTHSVC_DATABASE_PREPARED_STATEMENTS="+tc.prepared, "AUTHSVC_RATELIMIT_ENABLED=false")
			s := c.startServer()
			token := s.register(t, "alice")
			if r := s.call(t, "GET", "/readyz", "", nil); r.code != 200 {
				t.Fatalf("readyz: %d %s", r.code, r.body)
			}
			form := url.Values{"username": {"alice"}, "password": {testPassword}}
			resp, err := http.PostForm(s.base+"/auth/login", form)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			// The CLI through the pooler: the grant that failed with
			// `prepared statement "1" already exists`.
			for i := range 3 {
				if r := c.run("credits", "grant", "alice", "50", "--reference", fmt.Sprintf("grant-%d", i)); r.code != 0 {
					t.Fatalf("credits grant: %+v", r)
				}
			}
			const workers, each = 32, 8 // 256 debits of 1 on a balance of 150
			var mu sync.Mutex
			statuses := map[int]int{}
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range each {
						me := s.call(t, "GET", "/auth/me", token, nil)
						use := s.call(t, "POST", "/credits/use", token, map[string]any{"amount": 1})
						mu.Lock()
						statuses[me.code]++
						if use.code != 200 && use.code != 400 {
							t.Errorf("credits/use: %d %s", use.code, use.body)
						}
						statuses[use.code]++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if statuses[200] != workers*each+150 || statuses[400] != workers*each-150 {
				t.Fatalf("statuses %v: want %d × 200 (every /auth/me and 150 debits) and %d × 400", statuses,
					workers*each+150, workers*each-150)
			}
			bal := decodeJSON[map[string]any](t, c.run("credits", "balance", "alice", "-o", "json"))
			if bal["balance"] != 0.0 {
				t.Fatalf("balance after the debits: %v", bal)
			}
		})
	}
}

// adminDB opens the test server's maintenance database.
func adminDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", storetest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dbName is the database of a PostgreSQL URL.
func dbName(t *testing.T, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(parsed.Path, "/")
}

// A read-only database (as after a failover to a standby, here through
// default_transaction_read_only for new sessions): writes are 503
// database_read_only with Retry-After, /readyz 503, reads 200; back to
// normal once lifted.
func TestReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	dbURL := storetest.PostgresURL(t)
	name := dbName(t, dbURL)
	admin := adminDB(t)
	c := newCLI(t, dbURL, "AUTHSVC_RATELIMIT_ENABLED=false")
	s := c.startServer()
	token := s.register(t, "reader")
	if r := c.run("credits", "grant", "reader", "5"); r.code != 0 {
		t.Fatalf("grant: %+v", r)
	}
	setReadOnly := func(on bool) {
		t.Helper()
		stmt := "ALTER DATABASE " + name + " SET default_transaction_read_only = on"
		if !on {
			stmt = "ALTER DATABASE " + name + " RESET default_transaction_read_only"
		}
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatal(err)
		}
		// A failover ends every session; new ones get the new default.
		if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
			t.Fatal(err)
		}
	}
	setReadOnly(true)
	waitFor(t, func() bool { return s.call(t, "GET", "/readyz", "", nil).code == 503 })

	for _, w := range []struct {
		what string
		do   func() apiResponse
	}{
		{"register", func() apiResponse {
			return s.call(t, "POST", "/auth/register", "", map[string]string{
				"username": "writer", "email": "writer@example.com", "password": testPassword})
		}},
		{"debit", func() apiResponse {
			return s.call(t, "POST", "/credits/use", token, map[string]any{"amount": 1})
		}},
		{"password change", func() apiResponse {
			return s.call(t, "PUT", "/auth/users/reader/password", token, map[string]string{
				"current_password": testPassword, "new_password": "another long passphrase"})
		}},
	} {
		// A pooled connection the failover ended answers 503
		// database_unavailable once (never 500); the next one is refused
		// for being read-only.
		r := w.do()
		for range 40 {
			if r.code != 503 || r.errorCode() != "database_unavailable" {
				break
			}
			r = w.do()
		}
		if r.code != 503 || r.errorCode() != "database_read_only" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s on a read-only database: %d %s (Retry-After %q), want 503 database_read_only with Retry-After",
				w.what, r.code, r.body, r.header.Get("Retry-After"))
		}
	}
	for _, path := range []string{"/auth/me", "/credits/balance", "/credits/transactions"} {
		r := s.call(t, "GET", path, token, nil)
		for i := 0; i < 40 && r.code == 503 && r.errorCode() == "database_unavailable"; i++ {
			r = s.call(t, "GET", path, token, nil) // a connection the failover ended
		}
		if r.code != 200 {
			t.Errorf("read %s on a read-only database: %d %s", path, r.code, r.body)
		}
	}
	if r := s.call(t, "GET", "/readyz", "", nil); r.code != 503 {
		t.Errorf("readyz while read-only: %d", r.code)
	}

	setReadOnly(false)
	waitFor(t, func() bool { return s.call(t, "GET", "/readyz", "", nil).code == 200 })
	if r := s.call(t, "POST", "/credits/use", token, map[string]any{"amount": 1}); r.code != 200 {
		t.Fatalf("debit after the database is writable again: %d %s", r.code, r.body)
	}
	if strings.Contains(s.logs.String(), `"status":500`) || strings.Contains(s.logs.String(), "status=500") {
		t.Errorf("a request answered 500:\n%s", s.logs.String())
	}
}

// freezer is a TCP proxy to PostgreSQL that can freeze: while frozen it
// accepts connections and reads, but forwards nothing either way, like a
// server stopped with SIGSTOP.
type freezer struct {
	ln     net.Listener
	mu     sync.Mutex
	frozen bool
	thawed chan struct{} // closed when not frozen
}

func startFreezer(t *testing.T, target string) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, thawed: make(chan struct{})}
	close(f.thawed)
	var conns sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		ln.Close()
		f.set(false)
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		conns.Wait()
	})
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			track(client)
			conns.Go(func() {
				f.wait()
				server, err := net.Dial("tcp", target)
				if err != nil {
					client.Close()
					return
				}
				track(server)
				conns.Go(func() { f.pipe(server, client) })
				f.pipe(client, server)
			})
		}
	}()
	return f
}

// pipe copies src to dst, holding every chunk while frozen.
func (f *freezer) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			f.wait()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (f *freezer) wait() {
	f.mu.Lock()
	ch := f.thawed
	f.mu.Unlock()
	<-ch
}

func (f *freezer) set(frozen bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if frozen == f.frozen {
		return
	}
	f.frozen = frozen
	if frozen {
		f.thawed = make(chan struct{})
	} else {
		close(f.thawed)
	}
}

func (f *freezer) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// A frozen database: every kind of request (register, login, refresh,
// /auth/me, credits use and add, holds, history) ends within
// database.query_timeout with a 503 — also those that wait for a pool
// connection, since more requests than connections are in flight — and
// /readyz within its own 2 s timeout; after the thaw all is well.
func TestFrozenDatabase(t *testing.T) {
	t.Parallel()
	direct := storetest.PostgresURL(t)
	f := startFreezer(t, "127.0.0.1:5432")
	const queryTimeout = time.Second
	c := newCLI(t, withPort(t, direct, f.port()), "AUTHSVC_DATABASE_QUERY_TIMEOUT="+queryTimeout.String(),
		"AUTHSVC_RATELIMIT_ENABLED=false", "AUTHSVC_CREDITS_USER_SELF_ADD=true", "AUTHSVC_DATABASE_MAX_OPEN_CONNS=4")
	s := c.startServer()
	token := s.register(t, "frosty")
	if r := s.call(t, "POST", "/credits/add", token, map[string]any{"amount": 100}); r.code != 200 {
		t.Fatalf("credits add: %d %s", r.code, r.body)
	}
	type request struct {
		method, path string
		body         any
	}
	kinds := []request{
		{"POST", "/auth/register", map[string]string{"username": "newbie", "email": "newbie@example.com", "password": testPassword}},
		{"POST", "/auth/login", map[string]string{"username": "frosty", "password": testPassword}},
		{"POST", "/auth/refresh", map[string]string{"token": token}},
		{"GET", "/auth/me", nil},
		{"POST", "/credits/use", map[string]any{"amount": 1}},
		{"POST", "/credits/add", map[string]any{"amount": 1}},
		{"POST", "/credits/holds", map[string]any{"amount": 1}},
		{"GET", "/credits/holds", nil},
		{"GET", "/credits/transactions", nil},
		{"GET", "/credits/balance", nil},
	}

	f.set(true)
	// Held connections freeze mid-request and new ones are accepted but get
	// no answer: both end at the deadline. Two of each kind: more requests
	// than the pool's 4 connections, so some wait for one.
	const slack = 1500 * time.Millisecond
	var wg sync.WaitGroup
	var longest time.Duration
	var longestMu sync.Mutex
	for i := range 2 * len(kinds) {
		wg.Go(func() {
			k := kinds[i%len(kinds)]
			start := time.Now()
			r := s.call(t, k.method, k.path, token, k.body)
			took := time.Since(start)
			longestMu.Lock()
			longest = max(longest, took)
			longestMu.Unlock()
			if r.code != 503 || took > queryTimeout+slack {
				t.Errorf("%s %s against a frozen database: %d %s after %s, want 503 within %s",
					k.method, k.path, r.code, r.body, took.Round(time.Millisecond), queryTimeout+slack)
			}
			if r.code == 503 && r.header.Get("Retry-After") == "" {
				t.Errorf("%s %s: 503 without Retry-After", k.method, k.path)
			}
		})
	}
	wg.Wait()
	start := time.Now()
	r := s.call(t, "GET", "/readyz", "", nil)
	readyTook := time.Since(start)
	if r.code != 503 || readyTook > 2*time.Second+slack {
		t.Errorf("readyz against a frozen database: %d after %s", r.code, readyTook)
	}
	t.Logf("frozen database: %d requests answered 503 within %s (query_timeout %s); /readyz 503 after %s",
		2*len(kinds), longest.Round(time.Millisecond), queryTimeout, readyTook.Round(time.Millisecond))
	// One failure, one line: the failed requests are logged once.
	if n := strings.Count(s.logs.String(), "request failed"); n != 1 {
		t.Errorf("%d \"request failed\" lines for %d identical failures, want 1", n, 2*len(kinds))
	}

	f.set(false)
	waitFor(t, func() bool { return s.call(t, "GET", "/readyz", "", nil).code == 200 })
	if r := s.call(t, "GET", "/auth/me", token, nil); r.code != 200 {
		t.Fatalf("/auth/me after the thaw: %d %s", r.code, r.body)
	}
}
