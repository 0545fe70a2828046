package cmd_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/creack/pty"
	_ "github.com/lib/pq" // bulk-loading users in a test
)

const testPassword = "correct horse battery"

type userJSON struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email"`
	IsAdmin   bool      `json:"is_admin"`
	CreatedAt time.Time `json:"created_at"`
}

func decodeJSON[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	return v
}

// expectExit checks an exit code and that the error is one line on stderr.
func expectExit(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d: stdout %q stderr %q", r.code, code, r.stdout, r.stderr)
	}
	if code != 0 {
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "error: ") || r.stdout != "" {
			t.Fatalf("want one error line on stderr and nothing on stdout: stdout %q stderr %q", r.stdout, r.stderr)
		}
	}
}

func TestUserCommands(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t))

			// Password from stdin; JSON output.
			u := decodeJSON[userJSON](t, c.runStdin(testPassword+"\r\n", "user", "create", "Alice", "--email", "Alice@Example.com", "--password-stdin", "-o", "json"))
			if u.ID == 0 || u.Username != "Alice" || u.Email != "alice@example.com" || u.IsAdmin || u.CreatedAt.IsZero() {
				t.Fatalf("created %+v", u)
			}
			// Password from the environment; text output; admin.
			env := &cli{t: t, dir: c.dir, env: append(c.env, "AUTHSVC_PASSWORD="+testPassword)}
			r := env.run("user", "create", "root", "--email", "root@example.com", "--admin")
			if r.code != 0 || !strings.Contains(r.stdout, "username:   root") || !strings.Contains(r.stdout, "role:       admin") {
				t.Fatalf("create root: %+v", r)
			}

			expectExit(t, c.runStdin(testPassword, "user", "create", "alice", "--email", "other@example.com", "--password-stdin"), 4)
			expectExit(t, c.run("user", "create", "bob", "--email", "bob@example.com"), 2)                                      // no password source
			expectExit(t, c.runStdin("password", "user", "create", "bob", "--email", "bob@example.com", "--password-stdin"), 2) // common password
			expectExit(t, c.runStdin(testPassword, "user", "create", "b", "--email", "not-an-email", "--password-stdin"), 2)
			expectExit(t, c.run("user", "show", "nobody"), 3)
			expectExit(t, c.run("user", "promote", "nobody"), 3)
			expectExit(t, c.run("user", "delete", "nobody", "--yes"), 3)
			expectExit(t, c.run("user", "delete", "alice"), 2) // not a terminal and no --yes

			shown := decodeJSON[userJSON](t, c.run("user", "show", "alice", "-o", "json"))
			if shown.ID != u.ID || shown.Email != "alice@example.com" {
				t.Fatalf("show: %+v", shown)
			}
			promoted := decodeJSON[userJSON](t, c.run("user", "promote", "alice", "-o", "json"))
			if !promoted.IsAdmin {
				t.Fatal("promote did not make alice an admin")
			}
			admins := decodeJSON[[]userJSON](t, c.run("user", "list", "--admins", "-o", "json"))
			if len(admins) != 2 {
				t.Fatalf("admins: %+v", admins)
			}
			demoted := decodeJSON[userJSON](t, c.run("user", "promote", "alice", "--revoke", "-o", "json"))
			if demoted.IsAdmin {
				t.Fatal("--revoke left alice an admin")
			}
			if r := c.run("user", "list"); r.code != 0 || !strings.Contains(r.stdout, "USERNAME") || !strings.Contains(r.stdout, "root") {
				t.Fatalf("list text: %+v", r)
			}
			limited := decodeJSON[[]userJSON](t, c.run("user", "list", "--limit", "1", "-o", "json"))
			if len(limited) != 1 {
				t.Fatalf("--limit 1: %d users", len(limited))
			}
			deleted := decodeJSON[map[string]any](t, c.run("user", "delete", "alice", "--yes", "-o", "json"))
			if deleted["deleted"] != true {
				t.Fatalf("delete: %+v", deleted)
			}
			expectExit(t, c.run("user", "show", "alice"), 3)
		})
	}
}

func TestCreditsCommands(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t))
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "alice", "--email", "alice@example.com", "--password-stdin", "-o", "json"))

			tx := decodeJSON[map[string]any](t, c.run("credits", "grant", "alice", "10.50", "--reference", "inv-1", "--description", "Invoice 1", "-o", "json"))
			if tx["amount"] != 10.5 || tx["new_balance"] != 10.5 || tx["transaction_type"] != "credit_added" || tx["reference_id"] != "inv-1" {
				t.Fatalf("grant: %+v", tx)
			}
			again := decodeJSON[map[string]any](t, c.run("credits", "grant", "alice", "10.50", "--reference", "inv-1", "-o", "json"))
			if again["id"] != tx["id"] {
				t.Fatalf("a repeated grant must return the original transaction: %+v vs %+v", again, tx)
			}
			if r := c.run("credits", "grant", "alice", "0.25"); r.code != 0 || !strings.Contains(r.stdout, "balance 10.75") {
				t.Fatalf("grant text: %+v", r)
			}
			expectExit(t, c.run("credits", "grant", "alice", "1.005"), 2)
			expectExit(t, c.run("credits", "grant", "alice", "-3"), 2)
			expectExit(t, c.run("credits", "grant", "alice", "ten"), 2)
			expectExit(t, c.run("credits", "grant", "nobody", "1"), 3)
			expectExit(t, c.run("credits", "grant", "alice", "99", "--reference", "inv-1"), 4)
			expectExit(t, c.run("credits", "balance", "nobody"), 3)
			expectExit(t, c.run("credits", "grant", "alice"), 2)

			bal := decodeJSON[map[string]any](t, c.run("credits", "balance", "alice", "-o", "json"))
			if bal["balance"] != 10.75 {
				t.Fatalf("balance: %+v", bal)
			}

			// The grant is visible to the API, with a token from `token issue`.
			tok := strings.TrimSpace(c.run("token", "issue", "alice").stdout)
			s := c.startServer()
			code, body := s.authGet(t, "/credits/balance", tok)
			var api map[string]any
			if code != 200 || json.Unmarshal([]byte(body), &api) != nil || api["balance"] != 10.75 {
				t.Fatalf("API balance: %d %s", code, body)
			}
		})
	}
}

func TestTokenIssueAndLiveEffects(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			c := newMigratedCLI(t, b.URL(t))
			decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "root", "--email", "root@example.com", "--admin", "--password-stdin", "-o", "json"))
			target := decodeJSON[userJSON](t, c.runStdin(testPassword, "user", "create", "carol", "--email", "carol@example.com", "--password-stdin", "-o", "json"))
			issued := decodeJSON[map[string]any](t, c.run("token", "issue", "root", "--ttl", "10m", "-o", "json"))
			exp, err := time.Parse(time.RFC3339, fmt.Sprint(issued["expires_at"]))
			if err != nil || issued["token_type"] != "bearer" || time.Until(exp) > 11*time.Minute || time.Until(exp) < 8*time.Minute {
				t.Fatalf("token issue -o json: %+v", issued)
			}
			rootToken := issued["access_token"].(string)
			carolToken := strings.TrimSpace(c.run("token", "issue", "carol").stdout)
			expectExit(t, c.run("token", "issue", "nobody"), 3)
			expectExit(t, c.run("token", "issue", "carol", "--ttl", "-1h"), 2)

			s := c.startServer()
			adminPath := fmt.Sprintf("/auth/me?user_id=%d", target.ID)
			if code, body := s.authGet(t, adminPath, rootToken); code != 200 || !strings.Contains(body, "carol@example.com") {
				t.Fatalf("admin reads carol: %d %s", code, body)
			}
			if code, _ := s.authGet(t, "/auth/me", carolToken); code != 200 {
				t.Fatalf("carol's CLI token refused: %d", code)
			}

			decodeJSON[userJSON](t, c.run("user", "promote", "root", "--revoke", "-o", "json"))
			if code, body := s.authGet(t, adminPath, rootToken); code != 403 {
				t.Fatalf("after --revoke the admin endpoint must be 403, got %d %s", code, body)
			}
			decodeJSON[map[string]any](t, c.run("user", "delete", "carol", "--yes", "-o", "json"))
			if code, body := s.authGet(t, "/auth/me", carolToken); code != 401 {
				t.Fatalf("after delete carol's token must be 401, got %d %s", code, body)
			}
		})
	}
}

func TestUnreachableDatabaseExits5(t *testing.T) {
	c := newCLI(t, "postgres://postgres@"+testkit.FreeAddr(t)+"/authsvc?sslmode=disable&connect_timeout=1")
	for _, args := range [][]string{{"user", "list"}, {"credits", "balance", "alice"}, {"token", "issue", "alice"}} {
		expectExit(t, c.run(args...), 5)
	}
}

func TestCreateManyUsers(t *testing.T) {
	dbURL := storetest.PostgresURL(t)
	c := newMigratedCLI(t, dbURL)
	const n = 200
	for i := range n {
		r := c.runStdin(testPassword, "user", "create", fmt.Sprintf("user%03d", i), "--email", fmt.Sprintf("user%03d@example.com", i), "--password-stdin")
		if r.code != 0 {
			t.Fatalf("user %d: %+v", i, r)
		}
	}
	users := decodeJSON[[]userJSON](t, c.run("user", "list", "--all", "-o", "json"))
	if len(users) != n {
		t.Fatalf("user list --all: %d users, want %d", len(users), n)
	}
	seen := map[string]bool{}
	for _, u := range users {
		seen[u.Username] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct usernames, want %d", len(seen), n)
	}

	t.Run("user list pages by default and says how to get the next page", func(t *testing.T) {
		r := c.run("user", "list", "-o", "json")
		first := decodeJSON[[]userJSON](t, r)
		hint := fmt.Sprintf("more users: authsvc user list --after %d --limit 100", first[len(first)-1].ID)
		if len(first) != 100 || first[0].Username != "user000" || !strings.Contains(r.stderr, hint) {
			t.Fatalf("first page: %d users from %v, stderr %q", len(first), first[0], r.stderr)
		}
		r = c.run("user", "list", "--after", strconv.FormatInt(first[len(first)-1].ID, 10), "-o", "json")
		second := decodeJSON[[]userJSON](t, r)
		if len(second) != 100 || second[0].Username != "user100" || second[99].Username != "user199" || r.stderr != "" {
			t.Fatalf("second page: %d users, stderr %q", len(second), r.stderr)
		}
		if r := c.run("user", "list", "--after", strconv.FormatInt(second[99].ID, 10), "-o", "json"); strings.TrimSpace(r.stdout) != "[]" || r.code != 0 {
			t.Fatalf("past the end: %+v", r)
		}
	})
	t.Run("user list --all in text is one header and every user", func(t *testing.T) {
		r := c.run("user", "list", "--all")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != n+1 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[n], "user199") {
			t.Fatalf("exit %d, %d lines", r.code, len(lines))
		}
	})
	t.Run("user list --limit 0 lists every user, as it always did", func(t *testing.T) {
		if all := decodeJSON[[]userJSON](t, c.run("user", "list", "--limit", "0", "-o", "json")); len(all) != n {
			t.Fatalf("--limit 0: %d users, want %d", len(all), n)
		}
	})
	t.Run("user list --all streams past its read page, each user once in id order", func(t *testing.T) {
		db, err := sql.Open("postgres", dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		const bulk = 2300 // three of the CLI's 1,000-user reads
		_, err = db.Exec(`INSERT INTO users (username, email, password_hash, created_at, updated_at)
			SELECT 'bulk' || g, 'bulk' || g || '@example.com', 'x', now(), now() FROM generate_series(1, $1) g`, bulk)
		if err != nil {
			t.Fatal(err)
		}
		all := decodeJSON[[]userJSON](t, c.run("user", "list", "--all", "-o", "json"))
		if len(all) != n+bulk {
			t.Fatalf("--all: %d users, want %d", len(all), n+bulk)
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID <= all[i-1].ID {
				t.Fatalf("user %d (id %d) after id %d", i, all[i].ID, all[i-1].ID)
			}
		}
	})
	t.Run("a bad --limit or --after is a usage error", func(t *testing.T) {
		expectExit(t, c.run("user", "list", "--limit", "-1"), 2)
		expectExit(t, c.run("user", "list", "--after", "-1"), 2)
	})
}

// The password prompt works on a real pseudo-terminal and never echoes.
func TestPasswordPromptOnTerminal(t *testing.T) {
	c := newMigratedCLI(t, storetest.SQLiteURL(t))
	cmd := exec.Command(binary, "user", "create", "dave", "--email", "dave@example.com", "-o", "json")
	cmd.Dir, cmd.Env = c.dir, append(cleanEnv(), c.env...)
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true} // as pty.Start does
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &testkit.SyncBuffer{}
	go io.Copy(out, ptmx) //nolint:errcheck // ends when the pty closes
	// Type once the prompt shows and the program has turned the echo off
	// (it prints the prompt first: a fast typist could beat it, a test did).
	for _, prompt := range []string{"Password: ", "Repeat password: "} {
		waitFor(t, func() bool { return strings.Contains(out.String(), prompt) && !echoing(tty) })
		fmt.Fprint(ptmx, testPassword+"\r")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("prompted create: %v\n%s", err, out.String())
	}
	// The copy from the pty may still be draining after Wait: poll for the
	// result instead of reading the buffer once (a flake under load).
	waitFor(t, func() bool { return strings.Contains(out.String(), `"username": "dave"`) })
	if strings.Contains(out.String(), testPassword) {
		t.Fatal("the password was echoed")
	}
}

// authGet performs an authenticated GET against the server.
func (s *server) authGet(t testing.TB, path, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
