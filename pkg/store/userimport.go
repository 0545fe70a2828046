package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/jmoiron/sqlx"
)

// importChunk is how many rows one round of import statements carries: a few
// multi-row statements per chunk instead of several statements per user, and
// well under both dialects' limits on bound parameters.
const importChunk = 200

// errImportBalanceLimit is a balance the account cannot hold.
var errImportBalanceLimit = errors.New(domain.MsgImportBalanceLimit)

// ImportUsers implements domain.UserImporter: one transaction for the whole
// file, in chunks of multi-row statements; see the interface for the rules.
func (db *DB) ImportUsers(ctx context.Context, users []domain.ImportedUser, opts domain.ImportOptions) (*domain.ImportResult, error) {
	var res *domain.ImportResult
	err := db.InTx(ctx, func(tx *sqlx.Tx) error {
		res = &domain.ImportResult{}
		for start := 0; start < len(users); start += importChunk {
			chunk := users[start:min(start+importChunk, len(users))]
			if err := db.importChunk(ctx, tx, chunk, opts, res); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// existingUser is a user row the import met.
type existingUser struct {
	ID           int64  `db:"id"`
	Username     string `db:"username"`
	Email        string `db:"email"`
	PasswordHash string `db:"password_hash"`
	// ImportedHash is the hash an earlier import created the user with
	// (NULL for users who registered).
	ImportedHash sql.NullString `db:"imported_password_hash"`
}

// sameOwner reports whether the existing user e is the one a row with
// password hash h describes: created by an import of h (its hash may have
// been rehashed by a login since), or holding h now.
func (e *existingUser) sameOwner(h string) bool {
	return e.PasswordHash == h || (e.ImportedHash.Valid && e.ImportedHash.String == h)
}

// importChunk imports one chunk: look up the users it names, insert the new
// ones, then add the balances not added before.
func (db *DB) importChunk(ctx context.Context, tx *sqlx.Tx, chunk []domain.ImportedUser, opts domain.ImportOptions, res *domain.ImportResult) error {
	byName, byEmail, err := lookupUsers(ctx, tx, chunk)
	if err != nil {
		return err
	}
	var fresh []*domain.ImportedUser
	var freshIdx []int
	ids := map[int]int64{} // chunk index → user id, for the balances
	var unchanged []int64
	for i := range chunk {
		u := &chunk[i]
		u.Email = domain.CanonicalEmail(u.Email)
		n, e := byName[strings.ToLower(u.Username)], byEmail[u.Email]
		var conflict error
		switch {
		case n != nil && n == e && !n.sameOwner(u.PasswordHash) && !opts.CreditExisting:
			// Someone may have registered the name before the import: they
			// get neither the owner's hash nor the owner's balance.
			conflict = domain.ErrImportPasswordDiffers
		case n != nil && n == e: // the same user: already there, or earlier in this chunk
			if n.ID != 0 {
				ids[i] = n.ID
				unchanged = append(unchanged, n.ID)
			}
			res.Unchanged++
			continue
		case n != nil:
			conflict = domain.ErrImportUsernameTaken
		case e != nil:
			conflict = domain.ErrImportEmailTaken
		}
		if conflict != nil {
			if !opts.SkipConflicts {
				return &domain.ImportRowError{Line: u.Line, Err: conflict}
			}
			res.Skipped = append(res.Skipped, domain.ImportRowError{Line: u.Line, Err: conflict})
			continue
		}
		placeholder := &existingUser{Username: u.Username, Email: u.Email, PasswordHash: u.PasswordHash} // ID 0: inserted below
		byName[strings.ToLower(u.Username)], byEmail[u.Email] = placeholder, placeholder
		fresh, freshIdx = append(fresh, u), append(freshIdx, i)
	}
	created, err := db.insertImported(ctx, tx, fresh)
	if err != nil {
		return err
	}
	res.Created += len(fresh)
	for _, i := range freshIdx {
		ids[i] = created[strings.ToLower(chunk[i].Username)]
	}
	return db.importBalances(ctx, tx, chunk, ids, unchanged, res)
}

// lookupUsers finds the existing users that share a username or an email
// with the chunk, keyed by lowercased username and by email.
func lookupUsers(ctx context.Context, tx *sqlx.Tx, chunk []domain.ImportedUser) (map[string]*existingUser, map[string]*existingUser, error) {
	names := make([]string, len(chunk))
	emails := make([]string, len(chunk))
	for i, u := range chunk {
		names[i], emails[i] = strings.ToLower(u.Username), domain.CanonicalEmail(u.Email)
	}
	q, args, err := sqlx.In(`SELECT id, username, email, password_hash, imported_password_hash FROM users WHERE lower(username) IN (?) OR email IN (?)`, names, emails)
	if err != nil {
		return nil, nil, err
	}
	var found []*existingUser
	if err := sqlx.SelectContext(ctx, tx, &found, tx.Rebind(q), args...); err != nil {
		return nil, nil, fmt.Errorf("import: find users: %w", err)
	}
	byName, byEmail := map[string]*existingUser{}, map[string]*existingUser{}
	for _, f := range found {
		byName[strings.ToLower(f.Username)], byEmail[f.Email] = f, f
	}
	return byName, byEmail, nil
}

// insertImported inserts new users in one statement and returns their ids
// by lowercased username.
func (db *DB) insertImported(ctx context.Context, tx *sqlx.Tx, fresh []*domain.ImportedUser) (map[string]int64, error) {
	out := map[string]int64{}
	if len(fresh) == 0 {
		return out, nil
	}
	now := db.Now()
	var b strings.Builder
	b.WriteString(`INSERT INTO users (username, email, password_hash, imported_password_hash, is_admin, token_version,
		created_at, updated_at, email_verified_at) VALUES `)
	args := make([]any, 0, len(fresh)*8)
	for i, u := range fresh {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, 1, ?, ?, ?)")
		created := now
		if !u.CreatedAt.IsZero() {
			created = u.CreatedAt.UTC().Truncate(time.Microsecond)
		}
		var verified *time.Time
		if u.EmailVerified {
			verified = &now
		}
		args = append(args, u.Username, u.Email, u.PasswordHash, u.PasswordHash, u.IsAdmin, created, now, verified)
	}
	b.WriteString(" RETURNING id, username")
	var rows []existingUser
	if err := sqlx.SelectContext(ctx, tx, &rows, tx.Rebind(b.String()), args...); err != nil {
		return nil, fmt.Errorf("import: insert users: %w", err)
	}
	for _, r := range rows {
		out[strings.ToLower(r.Username)] = r.ID
	}
	return out, nil
}

// importBalances adds each balance once: rows of users an earlier import
// already credited (reference_id "import") are left out.
func (db *DB) importBalances(ctx context.Context, tx *sqlx.Tx, chunk []domain.ImportedUser, ids map[int]int64,
	unchanged []int64, res *domain.ImportResult) error {
	credited := map[int64]bool{}
	if len(unchanged) > 0 {
		q, args, err := sqlx.In(`SELECT user_id FROM credit_transactions
			WHERE transaction_type = 'credit_added' AND reference_id = ? AND user_id IN (?)`, domain.ImportReference, unchanged)
		if err != nil {
			return err
		}
		var done []int64
		if err := sqlx.SelectContext(ctx, tx, &done, tx.Rebind(q), args...); err != nil {
			return fmt.Errorf("import: find balances: %w", err)
		}
		for _, id := range done {
			credited[id] = true
		}
	}
	amounts := map[int64]domain.Cents{}
	var order []int64
	for i, u := range chunk {
		id := ids[i]
		if id == 0 || u.Balance <= 0 || credited[id] {
			continue
		}
		credited[id] = true // a user named twice in the file is credited once
		amounts[id] = u.Balance
		order = append(order, id)
	}
	if len(order) == 0 {
		return nil
	}
	// The adds go through the ledger's one write path, as every balance
	// change does: one capped upsert of the balance rows, one insert of
	// their ledger rows.
	ops := make([]ledgerOp, len(order))
	desc := "balance imported by authsvc user import"
	for i, id := range order {
		ops[i] = ledgerOp{kind: opAdd, entry: &domain.LedgerEntry{UserID: id, Type: domain.CreditAdded,
			Amount: amounts[id], ReferenceID: new(domain.ImportReference), Description: &desc}}
	}
	out, _, err := db.applyLedger(ctx, tx, ops)
	if err == nil && out[0].Err != nil { // one add alone: its refusal is its outcome
		err = out[0].Err
	}
	if errors.Is(err, domain.ErrBalanceLimit) {
		return errImportBalanceLimit
	}
	if err != nil {
		return fmt.Errorf("import: add balances: %w", err)
	}
	res.Credited += len(order)
	return nil
}
