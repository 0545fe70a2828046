package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/authsvc"
	"github.com/jmoiron/sqlx"
)

// The import's SQL, prepared once per import inside its transaction.
const (
	sqlImportFindUser = `SELECT id, username, email FROM users WHERE lower(username) = lower(?) OR email = ?`
	sqlImportInsert   = `INSERT INTO users (username, email, password_hash, is_admin, token_version, created_at, updated_at)
		VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING id`
	sqlImportHasCredit = `SELECT count(*) FROM credit_transactions
		WHERE user_id = ? AND transaction_type = 'credit_added' AND reference_id = ?`
)

// errImportBalanceLimit is a balance the account cannot hold.
var errImportBalanceLimit = errors.New("the balance would exceed the largest balance an account may hold")

// importStmts are the import's statements, prepared on its transaction.
type importStmts struct {
	find, insert, hasCredit, addCredits, insertTx *sqlx.Stmt
}

func prepareImport(ctx context.Context, tx *sqlx.Tx) (*importStmts, error) {
	var s importStmts
	for _, p := range []struct {
		dst   **sqlx.Stmt
		query string
	}{{&s.find, sqlImportFindUser}, {&s.insert, sqlImportInsert}, {&s.hasCredit, sqlImportHasCredit},
		{&s.addCredits, sqlAddCredits}, {&s.insertTx, sqlInsertTransaction}} {
		st, err := tx.PreparexContext(ctx, tx.Rebind(p.query))
		if err != nil {
			return nil, fmt.Errorf("prepare import: %w", err)
		}
		*p.dst = st
	}
	return &s, nil
}

// ImportUsers implements authsvc.UserImporter: one transaction for the whole
// file; see the interface for the rules.
func (db *DB) ImportUsers(ctx context.Context, users []authsvc.ImportedUser, skipConflicts bool) (*authsvc.ImportResult, error) {
	var res *authsvc.ImportResult
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		res = &authsvc.ImportResult{}
		st, err := prepareImport(ctx, tx)
		if err != nil {
			return err
		}
		for i := range users {
			u := &users[i]
			rowErr, err := db.importOne(ctx, st, u, res)
			if err != nil {
				return err
			}
			if rowErr != nil {
				if !skipConflicts {
					return &authsvc.ImportRowError{Line: u.Line, Err: rowErr}
				}
				res.Skipped = append(res.Skipped, authsvc.ImportRowError{Line: u.Line, Err: rowErr})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// importOne stores one user and its balance. A conflict with an existing
// user is returned as rowErr, with nothing written for the row.
func (db *DB) importOne(ctx context.Context, st *importStmts, u *authsvc.ImportedUser, res *authsvc.ImportResult) (rowErr, err error) {
	email := strings.ToLower(u.Email)
	var found []struct {
		ID       int64  `db:"id"`
		Username string `db:"username"`
		Email    string `db:"email"`
	}
	if err := st.find.SelectContext(ctx, &found, u.Username, email); err != nil {
		return nil, fmt.Errorf("import line %d: find user: %w", u.Line, err)
	}
	var userID int64
	switch {
	case len(found) == 1 && strings.EqualFold(found[0].Username, u.Username) && found[0].Email == email:
		userID = found[0].ID
		res.Unchanged++
	case len(found) > 0:
		for _, f := range found {
			if strings.EqualFold(f.Username, u.Username) {
				return authsvc.ErrImportUsernameTaken, nil
			}
		}
		return authsvc.ErrImportEmailTaken, nil
	default:
		now := db.Now()
		created := now
		if !u.CreatedAt.IsZero() {
			created = u.CreatedAt.UTC().Truncate(time.Microsecond)
		}
		if err := st.insert.QueryRowxContext(ctx, u.Username, email, u.PasswordHash, u.IsAdmin, created, now).Scan(&userID); err != nil {
			return nil, fmt.Errorf("import line %d: insert user: %w", u.Line, err)
		}
		res.Created++
	}
	if u.Balance <= 0 {
		return nil, nil
	}
	var n int
	if err := st.hasCredit.GetContext(ctx, &n, userID, authsvc.ImportReference); err != nil {
		return nil, fmt.Errorf("import line %d: find balance: %w", u.Line, err)
	}
	if n > 0 {
		return nil, nil // added by an earlier import
	}
	now := db.Now()
	var balance int64
	err = st.addCredits.QueryRowxContext(ctx, userID, int64(u.Balance), now, int64(authsvc.MaxBalance-u.Balance)).Scan(&balance)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("import line %d: %w", u.Line, errImportBalanceLimit)
	}
	if err != nil {
		return nil, fmt.Errorf("import line %d: add balance: %w", u.Line, err)
	}
	ref, desc := authsvc.ImportReference, "balance imported by authsvc user import"
	var txID int64
	if err := st.insertTx.QueryRowxContext(ctx, userID, int64(u.Balance), string(authsvc.CreditAdded), ref, desc,
		balance, now).Scan(&txID); err != nil {
		return nil, fmt.Errorf("import line %d: insert transaction: %w", u.Line, err)
	}
	res.Credited++
	return nil, nil
}
