package cmd_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"github.com/authsvc/authsvc/internal/testkit"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestMigrateCommands(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			url := b.URL(t)
			c := newCLI(t, url)
			if p := store.SQLitePath(url); p != "" {
				// migrate status never creates a database: give it an empty one.
				if err := os.WriteFile(p, nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			r := c.run("migrate", "status", "-o", "json")
			var states []struct {
				ID      string `json:"id"`
				Applied bool   `json:"applied"`
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &states) != nil || len(states) == 0 || states[0].Applied {
				t.Fatalf("status on an empty database: %+v", r)
			}
			total := len(states)

			r = c.run("migrate", "up", "-o", "json")
			var up struct{ Applied int }
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &up) != nil || up.Applied != total {
				t.Fatalf("first up: %+v", r)
			}
			r = c.run("migrate", "up")
			if r.code != 0 || strings.TrimSpace(r.stdout) != "applied 0 migration(s)" {
				t.Fatalf("second up must be a no-op: %+v", r)
			}
			r = c.run("migrate", "status")
			if r.code != 0 || strings.Count(r.stdout, " applied ") != total {
				t.Fatalf("status after up: %+v", r)
			}
			r = c.run("migrate", "down", "-n", "1", "-o", "json")
			var down struct {
				RolledBack int `json:"rolled_back"`
			}
			if r.code != 0 || json.Unmarshal([]byte(r.stdout), &down) != nil || down.RolledBack != 1 {
				t.Fatalf("down -n 1: %+v", r)
			}
			if r = c.run("migrate", "status"); !strings.Contains(r.stdout, "pending") {
				t.Fatalf("status after down: %+v", r)
			}
			if r = c.run("migrate", "up"); r.code != 0 || strings.TrimSpace(r.stdout) != "applied 1 migration(s)" {
				t.Fatalf("up again: %+v", r)
			}
			if r = c.run("migrate", "down", "-n", "0"); r.code != 2 {
				t.Fatalf("down -n 0 is a usage error: %+v", r)
			}
		})
	}
}

// Several init containers starting together: each migration applied once.
func TestConcurrentMigrateUpOnPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	c := newCLI(t, url)
	var wg sync.WaitGroup
	results := make([]result, 4)
	for i := range results {
		wg.Go(func() { results[i] = c.run("migrate", "up", "-o", "json") })
	}
	wg.Wait()
	applied := 0
	for i, r := range results {
		var out struct{ Applied int }
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil {
			t.Fatalf("migrator %d: %+v", i, r)
		}
		applied += out.Applied
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, distinct int
	if err := db.QueryRow(`SELECT count(*), count(DISTINCT id) FROM schema_migrations`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || applied != rows {
		t.Fatalf("%d migrators applied %d in total; table has %d rows, %d distinct", len(results), applied, rows, distinct)
	}
}

func TestMigrateUnreachableDatabase(t *testing.T) {
	c := newCLI(t, "postgres://postgres@"+testkit.FreeAddr(t)+"/authsvc?sslmode=disable&connect_timeout=1")
	r := c.run("migrate", "up", "--wait", "2s")
	if r.code != 5 {
		t.Fatalf("exit code %d, want 5: %+v", r.code, r)
	}
	if !strings.Contains(r.stderr, "database unreachable after 2s") || !strings.Contains(r.stderr, "database not ready") {
		t.Fatalf("stderr lacks a clear message and a log line per try:\n%s", r.stderr)
	}
	// Bounded by --wait, not by the 60 s default: with the 200 ms doubling
	// backoff, 2 s leave room for 4 or 5 tries; 60 s take 16.
	if tries := strings.Count(r.stderr, "database not ready"); tries > 6 {
		t.Fatalf("%d tries in a 2s wait:\n%s", tries, r.stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t, storetest.SQLiteURL(t))
	for _, args := range [][]string{
		{"no-such-command"},
		{"migrate", "up", "--no-such-flag"},
		{"version", "extra-arg"},
		{"version", "-o", "yaml"},
	} {
		if r := c.run(args...); r.code != 2 || !strings.HasPrefix(r.stderr, "error: ") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: want exit 2 and one error line, got %+v", args, r)
		}
	}
	if r := c.run("migrate", "up", "--database-url", "mysql://x"); r.code != 2 || !strings.Contains(r.stderr, `unsupported scheme "mysql"`) {
		t.Errorf("bad database URL: %+v", r)
	}
}

func TestVersion(t *testing.T) {
	c := newCLI(t, "")
	r := c.run("version", "-o", "json")
	var v map[string]string
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v["version"] == "" || v["go"] == "" {
		t.Fatalf("version -o json: %+v", r)
	}
}

// Migrations need no signing secret: migrate must not generate one.
func TestMigrateCreatesNoSecret(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()} // zero configuration: SQLite in the working directory
	if r := c.run("migrate", "up"); r.code != 0 {
		t.Fatalf("migrate up: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "authsvc.db")); err != nil {
		t.Fatalf("no database created: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "authsvc.db.secret")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("migrate created a secret file (stat: %v)", err)
	}
}
