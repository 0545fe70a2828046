package cmd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/pkg/store/storetest"
	"golang.org/x/crypto/bcrypt"
)

// passlibHashes are bcrypt hashes as passlib writes them ($2b$), at cost 4,
// generated once for a few passwords and shared by the imported users.
func passlibHashes(t *testing.T, n int) (passwords, hashes []string) {
	t.Helper()
	for i := range n {
		pw := fmt.Sprintf("old-password-%d!", i)
		h, err := bcrypt.GenerateFromPassword([]byte(pw), 4)
		if err != nil {
			t.Fatal(err)
		}
		passwords = append(passwords, pw)
		hashes = append(hashes, "$2b$"+strings.TrimPrefix(string(h), "$2a$"))
	}
	return passwords, hashes
}

type importReport struct {
	Created, Unchanged, Credited int
	Skipped                      []struct {
		Line  int
		Error string
	}
}

// 10,000 users exported from the original as CSV (psql \copy … WITH (FORMAT
// csv, HEADER)), imported; each keeps its password and balance; a second
// import changes nothing.
func TestUserImport10000(t *testing.T) {
	t.Parallel()
	const n = 10000
	passwords, hashes := passlibHashes(t, 8)
	var csv strings.Builder
	csv.WriteString("id,username,email,hashed_password,is_admin,created_at,balance\n")
	for i := range n {
		balance := ""
		if i%2 == 0 {
			balance = fmt.Sprintf("%d.%02d", i+1, i%100)
		}
		fmt.Fprintf(&csv, "%d,user%05d,User%05d@Example.com,%s,%s,2024-03-0%d 10:20:30.123456+00,%s\n",
			i+1, i, i, hashes[i%len(hashes)], map[bool]string{true: "t", false: "f"}[i == 7], 1+i%9, balance)
	}
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dbURL := b.URL(t)
			// A loaded test machine must not turn the batch statements into timeouts.
			c := newMigratedCLI(t, dbURL, "AUTHSVC_RATELIMIT_ENABLED=false", "AUTHSVC_DATABASE_QUERY_TIMEOUT=60s")
			file := filepath.Join(c.dir, "users.csv")
			if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			rep := decodeJSON[importReport](t, c.run("user", "import", file, "-o", "json"))
			if rep.Created != n || rep.Unchanged != 0 || rep.Credited != n/2 || len(rep.Skipped) != 0 {
				t.Fatalf("first import: %+v", rep)
			}
			again := decodeJSON[importReport](t, c.run("user", "import", file, "-o", "json"))
			if again.Created != 0 || again.Unchanged != n || again.Credited != 0 {
				t.Fatalf("a repeated import must change nothing: %+v", again)
			}

			db := storetest.SQLFor(t, dbURL)
			var stored []struct {
				Username string `db:"username"`
				Email    string `db:"email"`
				Hash     string `db:"password_hash"`
				IsAdmin  bool   `db:"is_admin"`
			}
			if err := db.Select(&stored, `SELECT username, email, password_hash, is_admin FROM users ORDER BY username`); err != nil {
				t.Fatal(err)
			}
			if len(stored) != n {
				t.Fatalf("%d users stored, want %d", len(stored), n)
			}
			for i, u := range stored {
				if u.Username != fmt.Sprintf("user%05d", i) || u.Email != fmt.Sprintf("user%05d@example.com", i) ||
					u.Hash != hashes[i%len(hashes)] || u.IsAdmin != (i == 7) {
					t.Fatalf("user %d stored as %+v", i, u)
				}
			}
			var txs, total int64
			if err := db.QueryRow(`SELECT count(*), coalesce(sum(amount), 0) FROM credit_transactions
				WHERE transaction_type = 'credit_added' AND reference_id = 'import'`).Scan(&txs, &total); err != nil {
				t.Fatal(err)
			}
			var wantTotal int64
			for i := 0; i < n; i += 2 {
				wantTotal += int64((i+1)*100 + i%100)
			}
			if txs != n/2 || total != wantTotal {
				t.Fatalf("%d import transactions for %d cents, want %d for %d", txs, total, n/2, wantTotal)
			}
			r := c.run("credits", "balance", "user00042", "-o", "json")
			if !strings.Contains(r.stdout, `"balance": 43.42`) {
				t.Fatalf("balance of user00042: %+v", r)
			}

			// Users log in with their old passwords.
			s := c.startServer()
			every := 97 // a spread sample: bcrypt makes 10,000 logins take minutes
			if os.Getenv("AUTHSVC_TEST_IMPORT_LOGIN_ALL") == "1" {
				every = 1
			}
			var wg sync.WaitGroup
			sem := make(chan struct{}, 4)
			for i := 0; i < n; i += every {
				wg.Go(func() {
					sem <- struct{}{}
					defer func() { <-sem }()
					if code := login(t, s, fmt.Sprintf("user%05d", i), passwords[i%len(passwords)]); code != 200 {
						t.Errorf("user%05d cannot log in with the old password: %d", i, code)
					}
				})
			}
			wg.Wait()
			if code := login(t, s, "user09999", passwords[0]); code != 401 {
				t.Fatalf("a wrong password logged in: %d", code)
			}
		})
	}
}

func login(t *testing.T, s *server, username, password string) int {
	resp, err := http.PostForm(s.base+"/auth/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A bad row names its line and nothing is kept; --continue skips it.
func TestUserImportBadRows(t *testing.T) {
	t.Parallel()
	_, hashes := passlibHashes(t, 1)
	c := newMigratedCLI(t, storetest.SQLiteURL(t))
	jsonl := fmt.Sprintf(`{"username":"ann","email":"ann@example.com","hashed_password":%q,"is_admin":false,"created_at":"2024-01-02T03:04:05Z","balance":10.5}
{"username":"bob","email":"not-an-email","hashed_password":%q}

{"username":"cy","email":"cy@example.com","hashed_password":"plaintext"}
{"username":"dee","email":"dee@example.com","hashed_password":%q,"balance":"-1"}
`, hashes[0], hashes[0], hashes[0])

	r := c.runStdin(jsonl, "user", "import", "-")
	expectExit(t, r, 2)
	if !strings.Contains(r.stderr, `error: line 2: email "not-an-email" is not a valid email address (and 2 more bad rows); nothing was imported`) {
		t.Fatalf("stderr %q", r.stderr)
	}
	if users := decodeJSON[[]userJSON](t, c.run("user", "list", "-o", "json")); len(users) != 0 {
		t.Fatalf("a failed import kept %d users", len(users))
	}

	rep := decodeJSON[importReport](t, c.runStdin(jsonl, "user", "import", "-", "--continue", "-o", "json"))
	if rep.Created != 1 || rep.Credited != 1 || len(rep.Skipped) != 3 || rep.Skipped[0].Line != 2 ||
		rep.Skipped[1].Line != 4 || !strings.Contains(rep.Skipped[1].Error, "not a bcrypt hash") ||
		rep.Skipped[2].Line != 5 || !strings.Contains(rep.Skipped[2].Error, "negative") {
		t.Fatalf("--continue: %+v", rep)
	}

	// A row whose email belongs to another user is a conflict: exit 4, nothing kept.
	conflict := fmt.Sprintf("username,email,hashed_password\neve,eve@example.com,%s\nann2,ann@example.com,%s\n", hashes[0], hashes[0])
	r = c.runStdin(conflict, "user", "import", "-")
	expectExit(t, r, 4)
	if !strings.Contains(r.stderr, "line 3: email belongs to an existing user with another username; nothing was imported") {
		t.Fatalf("stderr %q", r.stderr)
	}
	r = c.run("user", "show", "eve")
	expectExit(t, r, 3)
	var out importReport
	r = c.runStdin(conflict, "user", "import", "-", "--continue", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Created != 1 || len(out.Skipped) != 1 || out.Skipped[0].Line != 3 {
		t.Fatalf("--continue on a conflict: %+v %+v", r, out)
	}
}

// Imported hashes keep their cost until a login rehashes them; serve makes
// the unknown-user compare as slow as the slowest of them, so that a wrong
// password for an imported account and one for nobody take as long.
func TestServeMatchesTheUnknownUserCompareToImportedCosts(t *testing.T) {
	t.Parallel()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), 6) // above the tests' cost of 4
	if err != nil {
		t.Fatal(err)
	}
	c := newMigratedCLI(t, storetest.SQLiteURL(t))
	expectExit(t, c.runStdin(fmt.Sprintf("username,email,hashed_password\nold,old@example.com,%s\n", h), "user", "import", "-"), 0)
	s := c.startServer()
	if !regexp.MustCompile(`unknown-user password compare raised.*cost"?[=:]6`).MatchString(s.logs.String()) {
		t.Fatalf("serve did not raise the unknown-user compare to cost 6:\n%s", s.logs.String())
	}
	if code := login(t, s, "old", testPassword); code != http.StatusOK {
		t.Fatalf("imported login: %d", code)
	}
}
