// Package dburl parses authsvc's database URLs (postgres://…, sqlite:PATH)
// into a dialect and a driver DSN. It uses the standard library only, so
// that both the configuration (to validate) and the store (to open) share
// one parser.
package dburl

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Dialect names the database engine behind a DB.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Parse splits a database URL into its dialect and the driver's DSN.
// Accepted: postgres://, postgresql:// (also the original's
// postgresql+asyncpg://) and sqlite:PATH. SQLite connections run with the
// durable synchronous=FULL; see ParseSQLite.
func Parse(raw string) (Dialect, string, error) { return ParseSQLite(raw, "FULL") }

// ParseSQLite is Parse with SQLite's synchronous pragma (FULL, EXTRA or
// NORMAL; not checked here) for sqlite: URLs.
func ParseSQLite(raw, synchronous string) (Dialect, string, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return "", "", fmt.Errorf("database.url: %q is not a URL (use postgres://... or sqlite:PATH)", raw)
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg2":
		dsn := "postgres:" + rest
		u, err := url.Parse(dsn)
		if err != nil {
			// Never echo the URL: it may hold a password.
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err
			}
			return "", "", fmt.Errorf("database.url: malformed PostgreSQL URL: %v", err)
		}
		q := u.Query()
		if !q.Has("binary_parameters") {
			// One round trip per parameterised query instead of two.
			q.Set("binary_parameters", "yes")
		}
		u.RawQuery = q.Encode()
		return Postgres, u.String(), nil
	case "sqlite", "sqlite3":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", "", errors.New(`database.url: sqlite needs a path (e.g. "sqlite:authsvc.db")`)
		}
		return SQLite, sqliteDSN(path, synchronous), nil
	default:
		return "", "", fmt.Errorf("database.url: unsupported scheme %q (use postgres:// or sqlite:)", scheme)
	}
}

// SQLitePath returns the file path of a sqlite: URL, or "" for other URLs and
// in-memory databases.
func SQLitePath(raw string) string {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || (scheme != "sqlite" && scheme != "sqlite3") {
		return ""
	}
	path := strings.TrimPrefix(rest, "//")
	path, _, _ = strings.Cut(path, "?")
	if path == ":memory:" {
		return ""
	}
	return strings.TrimPrefix(path, "file:")
}

// sqliteDSN builds the modernc DSN; the pragmas run on every new pooled
// connection.
func sqliteDSN(path, synchronous string) string {
	params := url.Values{}
	params.Add("_pragma", "foreign_keys(1)")
	params.Add("_pragma", "busy_timeout(10000)")
	params.Add("_pragma", "journal_mode(WAL)")
	params.Add("_pragma", "synchronous("+synchronous+")")
	params.Set("_txlock", "immediate")
	params.Set("_time_format", "sqlite")
	if path == ":memory:" {
		// A private in-memory database shared by the pool's connections.
		return fmt.Sprintf("file:mem%d?mode=memory&cache=shared&%s", time.Now().UnixNano(), params.Encode())
	}
	path, query, _ := strings.Cut(path, "?")
	// The path is part of a file: URI: escape what would end it early.
	path = strings.NewReplacer("%", "%25", "#", "%23").Replace(path)
	if query != "" {
		return "file:" + path + "?" + query + "&" + params.Encode()
	}
	return "file:" + path + "?" + params.Encode()
}
