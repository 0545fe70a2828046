// Package storetest gives tests a fresh, migrated database on each backend:
// a file in t.TempDir() for SQLite, and a new randomly named database for
// PostgreSQL, dropped in t.Cleanup. PostgreSQL tests skip when no server is
// reachable, and fail instead when AUTHSVC_TEST_REQUIRE_POSTGRES=1.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/dburl"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/jmoiron/sqlx"
	"github.com/rs/zerolog"
)

// DB is the store's database, named here so that the tests of other
// packages reach the store only through storetest (no package but store and
// cmd imports store).
type DB = store.DB

// Options are the store's options, for OpenWith.
type Options = store.Options

// DefaultAdminURL is the PostgreSQL server tests use unless
// AUTHSVC_TEST_POSTGRES_URL names another; it must allow CREATE DATABASE.
const DefaultAdminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Backend is one database engine a test can run on.
type Backend struct {
	Name string
	// URL returns the database.url of a fresh, empty database for t.
	URL func(t testing.TB) string
}

// Backends lists SQLite and PostgreSQL.
func Backends() []Backend {
	return []Backend{{Name: "sqlite", URL: SQLiteURL}, {Name: "postgres", URL: PostgresURL}}
}

// Run runs fn as a subtest on each backend, with a fresh migrated database.
func Run(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			fn(t, Open(t, b.URL(t)))
		})
	}
}

// Open opens and migrates the database at url, closing it in t.Cleanup.
func Open(t testing.TB, url string) *store.DB {
	t.Helper()
	return OpenWith(t, url, func(*store.Options) {})
}

// OpenWith is Open with options changed by tune (e.g. prepared statements
// off), on top of the tests' pool of 32.
func OpenWith(t testing.TB, url string, tune func(*store.Options)) *store.DB {
	t.Helper()
	opts := store.Options{MaxOpenConns: 32, MaxIdleConns: 32, Logger: zerolog.Nop()}
	tune(&opts)
	db, err := store.Open(url, opts)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { db.Close() })
	urls.Store(db, url)
	t.Cleanup(func() {
		urls.Delete(db)
		if p, ok := pools.LoadAndDelete(db); ok {
			p.(*sqlx.DB).Close()
		}
	})
	if _, err := db.MigrateUp(context.Background()); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	return db
}

// urls remembers the URL each Open opened, and pools the pool SQL opened
// for it.
var urls, pools sync.Map // *store.DB → string, *sqlx.DB

// SQL returns a second, independent pool on the database db (opened by Open)
// for tests that read or write rows directly; the store never hands out its
// own. The same pool is returned for the same db; it is closed with db.
func SQL(t testing.TB, db *store.DB) *sqlx.DB {
	t.Helper()
	if p, ok := pools.Load(db); ok {
		return p.(*sqlx.DB)
	}
	url, ok := urls.Load(db)
	if !ok {
		t.Fatal("storetest.SQL: db was not opened by storetest.Open")
	}
	pool := openPool(t, url.(string))
	if prev, loaded := pools.LoadOrStore(db, pool); loaded {
		pool.Close()
		return prev.(*sqlx.DB)
	}
	return pool
}

// SQLFor returns a pool on the database at url, closed when the test ends.
func SQLFor(t testing.TB, url string) *sqlx.DB {
	t.Helper()
	pool := openPool(t, url)
	t.Cleanup(func() { pool.Close() })
	return pool
}

func openPool(t testing.TB, url string) *sqlx.DB {
	t.Helper()
	dialect, dsn, err := dburl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	driver := "postgres"
	if dialect == dburl.SQLite {
		driver = "sqlite"
	}
	pool, err := sqlx.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// SQLiteURL returns the URL of a new SQLite file in t's temporary directory.
func SQLiteURL(t testing.TB) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "authsvc.db")
}

// RequirePostgres reports whether PostgreSQL tests must fail rather than skip.
func RequirePostgres() bool { return os.Getenv("AUTHSVC_TEST_REQUIRE_POSTGRES") == "1" }

// AdminURL is the URL of the PostgreSQL server used to create test databases.
func AdminURL() string {
	if u := os.Getenv("AUTHSVC_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultAdminURL
}

// PostgresURL creates a new, empty PostgreSQL database with a random name,
// drops it in t.Cleanup, and returns its URL. It skips t (or fails it when
// AUTHSVC_TEST_REQUIRE_POSTGRES=1) if no server is reachable.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("postgres", AdminURL())
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = admin.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if RequirePostgres() {
			t.Fatalf("PostgreSQL required (AUTHSVC_TEST_REQUIRE_POSTGRES=1) but unreachable at %s: %v", AdminURL(), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", AdminURL(), err)
	}
	name := "authsvc_test_" + randomHex(8)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", AdminURL(), err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
