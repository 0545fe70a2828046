package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/authsvc/authsvc/pkg/domain"
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
	var domainErr *domain.Error
	if errors.As(err, &domainErr) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrNotFound.With(err)
	}
	if isUnstorableText(err) {
		return domain.ErrInvalidText.With(err)
	}
	if isUniqueViolation(err) {
		return domain.ErrConflict.With(err)
	}
	if IsReadOnly(err) {
		return domain.ErrReadOnly.With(err)
	}
	if IsUnavailable(err) {
		return domain.ErrUnavailable.With(err)
	}
	return err
}

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

// sqliteUniqueColumns names the unique indexes SQLite reports by their
// columns ("UNIQUE constraint failed: users.email"); indexes on expressions
// it reports by name ("… failed: index 'users_username_lower_key'").
var sqliteUniqueColumns = map[string]string{
	"users.email": constraintEmail,
	"credit_transactions.user_id, credit_transactions.transaction_type, credit_transactions.reference_id": "credit_transactions_reference_key",
}

// violatedConstraint returns the name of the constraint (or unique index) a
// constraint violation hit, or "" when err is none or the driver did not say.
func violatedConstraint(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Constraint
	}
	var liteErr *sqlite.Error
	if !errors.As(err, &liteErr) {
		return ""
	}
	// modernc reports "constraint failed: UNIQUE constraint failed: <target> (2067)".
	_, target, ok := strings.Cut(liteErr.Error(), "constraint failed: ")
	if !ok {
		return ""
	}
	if _, t, ok := strings.Cut(target, "constraint failed: "); ok {
		target = t
	}
	if i := strings.LastIndex(target, " ("); i >= 0 {
		target = target[:i]
	}
	if name, ok := strings.CutPrefix(target, "index '"); ok {
		return strings.TrimSuffix(name, "'")
	}
	return sqliteUniqueColumns[target]
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
