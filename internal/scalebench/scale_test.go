package scalebench

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
	_ "github.com/lib/pq" // PostgreSQL driver
)

// samples is how many requests of each kind are timed at each size (login
// is bcrypt-bound, so it takes fewer).
const (
	samples      = 300
	loginSamples = 40
)

// BenchmarkScale measures each request's p50 latency against the small and
// the large database through a real `authsvc serve`, and reports the ratio
// large ÷ small for each (goal: ≤ 1.5). Run it with
// `make bench-scale`; b.N is not used, each request kind runs a fixed number
// of sequential samples so that the two sizes are compared like for like.
func BenchmarkScale(b *testing.B) {
	sizes := []Size{Small, Large}
	switch os.Getenv("AUTHSVC_BENCH_SCALE") {
	case "1":
	case "small": // a quick check of the benchmark itself
		sizes = sizes[:1]
	default:
		b.Skip("set AUTHSVC_BENCH_SCALE=1 (make bench-scale): loads 1M users / 10M ledger rows, minutes and a few GB")
	}
	bin := buildBinary(b)
	results := map[string]map[string]time.Duration{} // request → size → p50
	var order []string
	for _, size := range sizes {
		dbURL := ensureLoaded(b, bin, size)
		for name, d := range measure(b, bin, dbURL, size) {
			if results[name] == nil {
				results[name] = map[string]time.Duration{}
				order = append(order, name)
			}
			results[name][size.Name] = d
		}
	}
	slices.Sort(order)
	var table strings.Builder
	fmt.Fprintf(&table, "\n%-28s %12s %12s %8s\n", "request (p50)", Small.Name, Large.Name, "ratio")
	for _, name := range order {
		s, l := results[name][Small.Name], results[name][Large.Name]
		ratio := float64(l) / float64(s)
		fmt.Fprintf(&table, "%-28s %12s %12s %8.2f\n", name, s.Round(time.Microsecond), l.Round(time.Microsecond), ratio)
		if l > 0 {
			b.ReportMetric(ratio, strings.NewReplacer(" ", "_", "/", "_").Replace(name)+"-ratio")
		}
	}
	b.Log(table.String())
}

// buildBinary compiles authsvc once for the benchmark.
func buildBinary(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "authsvc")
	build := exec.Command("go", "build", "-o", bin, "../..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build authsvc: %v", err)
	}
	return bin
}

// ensureLoaded returns the URL of the size's database, creating, migrating and
// loading it unless an earlier run already did.
func ensureLoaded(b *testing.B, bin string, size Size) string {
	b.Helper()
	ctx := context.Background()
	admin, err := sql.Open("postgres", storetest.AdminURL())
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	name := "authsvc_scale_" + strings.ToLower(size.Name)
	u, err := url.Parse(storetest.AdminURL())
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	dbURL := u.String()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err == nil || strings.Contains(err.Error(), "already exists") {
		db, err := sql.Open("postgres", dbURL)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if loaded, err := size.Loaded(ctx, db); err == nil && loaded {
			return dbURL
		}
		db.Close()
	} else {
		b.Fatal(err)
	}
	// Not (completely) loaded: start from an empty database.
	if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		b.Fatal(err)
	}
	if out, err := run(bin, dbURL, "migrate", "up"); err != nil {
		b.Fatalf("migrate up: %v\n%s", err, out)
	}
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	took, err := size.Load(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %s (%d users, %d ledger rows) in %s", size.Name, size.Users, size.LedgerRows, took.Round(time.Second))
	return dbURL
}

// env is the environment of every authsvc process the benchmark starts.
func env(dbURL string, extra ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AUTHSVC_DATABASE_URL=" + dbURL,
		"AUTHSVC_AUTH_SECRET_KEY=" + strings.Repeat("s", 40),
		"AUTHSVC_AUTH_BCRYPT_COST=10",
		"AUTHSVC_RATELIMIT_ENABLED=false",
		"AUTHSVC_LOG_LEVEL=warn",
	}, extra...)
}

// run runs one authsvc command to completion.
func run(bin, dbURL string, args ...string) (string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env(dbURL)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// measure starts serve on dbURL and returns each request kind's p50, plus
// `migrate up` on the up-to-date database and `user list` (first page and
// --all, whose peak memory is reported as a metric).
func measure(b *testing.B, bin, dbURL string, size Size) map[string]time.Duration {
	b.Helper()
	p50 := map[string]time.Duration{}
	p50["migrate up (no-op)"] = median(5, func() {
		if out, err := run(bin, dbURL, "migrate", "up"); err != nil {
			b.Fatalf("migrate up: %v\n%s", err, out)
		}
	})
	p50["user list (first page)"] = median(5, func() {
		if out, err := run(bin, dbURL, "user", "list", "-o", "json"); err != nil {
			b.Fatalf("user list: %v\n%s", err, out)
		}
	})
	if size == Large {
		cmd := exec.Command(bin, "user", "list", "--all", "-o", "json")
		cmd.Env, cmd.Stdout = env(dbURL), io.Discard
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("user list --all: %v", err)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		b.ReportMetric(float64(rss)/1024, "user-list-all-MB")
		b.Logf("user list --all at %s: %s, peak RSS %.1f MB", size.Name, time.Since(start).Round(time.Millisecond), float64(rss)/1024)
	}

	base := startServe(b, bin, dbURL)
	client := &http.Client{Timeout: 30 * time.Second}
	rng := rand.New(rand.NewPCG(1, 2))
	randomUser := func() int { return 2 + rng.IntN(size.Users-1) }
	login := func(n int) string {
		body := url.Values{"username": {fmt.Sprintf("user%d", n)}, "password": {Password}}.Encode()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		call(b, client, "POST", base+"/auth/login", "application/x-www-form-urlencoded", body, "", 200, &out)
		return out.AccessToken
	}
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = login(randomUser())
	}
	heavy := login(1)
	get := func(path, tok string) func() {
		return func() { call(b, client, "GET", base+path, "", "", tok, 200, nil) }
	}
	i := 0
	nextToken := func() string { i++; return tokens[i%len(tokens)] }

	p50["GET /auth/me"] = median(samples, func() { get("/auth/me", nextToken())() })
	p50["GET /credits/balance"] = median(samples, func() { get("/credits/balance", nextToken())() })
	p50["POST /auth/login"] = median(loginSamples, func() { login(randomUser()) })
	p50["POST reset request"] = median(samples, func() {
		body := fmt.Sprintf(`{"email": "user%d@example.com"}`, randomUser())
		call(b, client, "POST", base+"/auth/password-reset-request", "application/json", body, "", 200, nil)
	})
	p50["history: first page"] = median(samples, get("/credits/transactions?limit=50", heavy))
	deep := size.HeavyRows * 9 / 10
	p50["history: skip at 90%"] = median(samples, get(fmt.Sprintf("/credits/transactions?skip=%d&limit=50", deep), heavy))
	cursor := fmt.Sprint(size.HeavyRows - deep) // the cursor a walk reaches at 90%
	p50["history: cursor at 90%"] = median(samples, get("/credits/transactions?limit=50&cursor="+cursor, heavy))
	return p50
}

// startServe runs `authsvc serve` on a free port until the benchmark ends.
func startServe(b *testing.B, bin, dbURL string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = env(dbURL, "AUTHSVC_SERVER_ADDR="+addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { // keep the pipe drained; show warnings
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.Log("serve: " + sc.Text())
		}
	}()
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have exited
		cmd.Wait()                          //nolint:errcheck // exit status of a stopped server
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve on %s not ready after 30 s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// call makes one request and fails the benchmark on any other status.
func call(b *testing.B, c *http.Client, method, url, contentType, body, token string, want int, out any) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			b.Fatal(err)
		}
	}
}

// median runs fn n times and returns the median duration.
func median(n int, fn func()) time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		fn()
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[n/2]
}
