package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// mapError turns driver errors into domain errors: unique violations become
// ECONFLICT, an unreachable server EUNAVAILABLE, sql.ErrNoRows ENOTFOUND.
// Domain errors and context errors pass through unchanged.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var domainErr *authsvc.Error
	if errors.As(err, &domainErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &authsvc.Error{Code: authsvc.ENOTFOUND, Message: "not found", Err: err}
	}
	if isUnstorableText(err) {
		return &authsvc.Error{Code: authsvc.EINVALID, Reason: "invalid_text",
			Message: "Text contains characters that cannot be stored (NUL or invalid UTF-8)", Err: err}
	}
	if isUniqueViolation(err) {
		return &authsvc.Error{Code: authsvc.ECONFLICT, Reason: "conflict", Message: "already exists", Err: err}
	}
	if IsReadOnly(err) {
		return &authsvc.Error{Code: authsvc.EUNAVAILABLE, Reason: "database_read_only",
			Message: "database is read-only", RetryAfter: unavailableRetryAfter, Err: err}
	}
	if IsUnavailable(err) {
		return &authsvc.Error{Code: authsvc.EUNAVAILABLE, Reason: "database_unavailable", Message: "database unavailable",
			RetryAfter: unavailableRetryAfter, Err: err}
	}
	return err
}

// unavailableRetryAfter is the Retry-After suggested with a 503 from the
// database: about how long a failover or a restart takes.
const unavailableRetryAfter = 5 * time.Second

// IsReadOnly reports that the database refused a write because it is
// read-only: SQLSTATE 25006 (read_only_sql_transaction, e.g.
// default_transaction_read_only or a hot standby), or 0A000 raised by a
// standby in recovery when a transaction asks for READ WRITE.
func IsReadOnly(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	return pqErr.Code == "25006" || (pqErr.Code == "0A000" && strings.Contains(pqErr.Message, "during recovery"))
}

// isUniqueViolation reports a unique or primary-key constraint failure.
func isUniqueViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23505"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		c := liteErr.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsCheckViolation reports a CHECK constraint failure (e.g. balance >= 0).
func IsCheckViolation(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "23514"
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_CHECK
	}
	return false
}

// IsUnavailable reports whether err means the database cannot be reached.
func IsUnavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		// Class 08: connection exception; 57P01/57P02: the server ended the
		// session (shutdown, failover); 57P03: cannot connect now; 3D000: no
		// such database.
		switch pqErr.Code {
		case "57P01", "57P02", "57P03", "3D000":
			return true
		}
		return strings.HasPrefix(string(pqErr.Code), "08")
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CANTOPEN
	}
	return false
}

// isUnstorableText reports PostgreSQL refusing a NUL byte or invalid UTF-8.
func isUnstorableText(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "22021" || pqErr.Code == "22P05")
}

// storable reports whether s can be stored in a text column on both
// databases: valid UTF-8 without NUL bytes.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
