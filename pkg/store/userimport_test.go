package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

const importHash = "$2b$04$abcdefghijklmnopqrstuu5ZqTtWvrcOBF9v/7oqLa4uEJ0wr8pHi"

func importRow(line int, name, email string, balance domain.Cents) domain.ImportedUser {
	return domain.ImportedUser{Line: line, Username: name, Email: email, PasswordHash: importHash, Balance: balance,
		CreatedAt: time.Date(2023, 4, 5, 6, 7, 8, 9000, time.UTC)}
}

func importedBalance(t *testing.T, db *store.DB, name string) (domain.Cents, int) {
	t.Helper()
	var bal, n int64
	pool := storetest.SQL(t, db)
	err := pool.QueryRowx(pool.Rebind(`SELECT coalesce(max(c.balance), 0), (SELECT count(*) FROM credit_transactions x WHERE x.user_id = u.id)
		FROM users u LEFT JOIN user_credits c ON c.user_id = u.id WHERE u.username = ? GROUP BY u.id`), name).Scan(&bal, &n)
	if err != nil {
		t.Fatal(err)
	}
	return domain.Cents(bal), int(n)
}

func TestImportUsers(t *testing.T) {
	ctx := context.Background()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		t.Run("a user named twice in one file is one user, credited once", func(t *testing.T) {
			res, err := db.ImportUsers(ctx, []domain.ImportedUser{
				importRow(2, "ann", "ann@example.com", 150), importRow(3, "ANN", "Ann@Example.com", 150), importRow(4, "bob", "bob@example.com", 0),
			}, domain.ImportOptions{})
			if err != nil || res.Created != 2 || res.Unchanged != 1 || res.Credited != 1 {
				t.Fatalf("got %+v %v", res, err)
			}
			if bal, n := importedBalance(t, db, "ann"); bal != 150 || n != 1 {
				t.Fatalf("ann: balance %d in %d transactions", bal, n)
			}
			u, err := db.UserByUsername(ctx, "ann")
			if err != nil || u.PasswordHash != importHash || !u.CreatedAt.Equal(time.Date(2023, 4, 5, 6, 7, 8, 9000, time.UTC)) ||
				u.EmailVerified() {
				t.Fatalf("ann stored as %+v %v", u, err)
			}
			verified := importRow(5, "vera", "vera@example.com", 0)
			verified.EmailVerified = true
			if _, err := db.ImportUsers(ctx, []domain.ImportedUser{verified}, domain.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			if v, err := db.UserByUsername(ctx, "vera"); err != nil || !v.EmailVerified() {
				t.Fatalf("vera stored as %+v %v", v, err)
			}
		})
		t.Run("an existing user keeps its balance on a repeat, and gets a missing one once", func(t *testing.T) {
			rows := []domain.ImportedUser{importRow(2, "ann", "ann@example.com", 150), importRow(3, "bob", "bob@example.com", 99)}
			for range 2 {
				res, err := db.ImportUsers(ctx, rows, domain.ImportOptions{})
				if err != nil || res.Created != 0 || res.Unchanged != 2 {
					t.Fatalf("got %+v %v", res, err)
				}
			}
			if bal, n := importedBalance(t, db, "bob"); bal != 99 || n != 1 {
				t.Fatalf("bob: balance %d in %d transactions", bal, n)
			}
			// The import's row is numbered in the user's history like any other.
			bob, err := db.UserByUsername(ctx, "bob")
			if err != nil {
				t.Fatal(err)
			}
			page, err := db.CreditHistory(ctx, bob.ID, 0, 10, 0)
			if err != nil || page.TotalCount != 1 || len(page.Transactions) != 1 || page.Transactions[0].Amount != 99 {
				t.Fatalf("bob's history %+v %v", page, err)
			}
			if bal, n := importedBalance(t, db, "ann"); bal != 150 || n != 1 {
				t.Fatalf("ann: balance %d in %d transactions", bal, n)
			}
		})
		t.Run("a conflict rolls everything back, or is skipped", func(t *testing.T) {
			rows := []domain.ImportedUser{importRow(2, "cy", "cy@example.com", 100), importRow(3, "ann", "other@example.com", 0),
				importRow(4, "dee", "bob@example.com", 0)}
			_, err := db.ImportUsers(ctx, rows, domain.ImportOptions{})
			var rowErr *domain.ImportRowError
			if !errors.As(err, &rowErr) || rowErr.Line != 3 || !errors.Is(err, domain.ErrImportUsernameTaken) {
				t.Fatalf("got %v", err)
			}
			if _, err := db.UserByUsername(ctx, "cy"); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("cy was kept: %v", err)
			}
			res, err := db.ImportUsers(ctx, rows, domain.ImportOptions{SkipConflicts: true})
			if err != nil || res.Created != 1 || len(res.Skipped) != 2 || !errors.Is(res.Skipped[1].Err, domain.ErrImportEmailTaken) {
				t.Fatalf("got %+v %v", res, err)
			}
		})
		t.Run("an account registered first under the same name gets neither hash nor balance", func(t *testing.T) {
			squatter := &domain.User{Username: "victim", Email: "victim@example.com", PasswordHash: "$2a$04$squatters-own-hash"}
			if err := db.CreateUser(ctx, squatter); err != nil {
				t.Fatal(err)
			}
			rows := []domain.ImportedUser{importRow(2, "victim", "victim@example.com", 500)}
			_, err := db.ImportUsers(ctx, rows, domain.ImportOptions{})
			if !errors.Is(err, domain.ErrImportPasswordDiffers) {
				t.Fatalf("got %v, want ErrImportPasswordDiffers", err)
			}
			res, err := db.ImportUsers(ctx, rows, domain.ImportOptions{SkipConflicts: true})
			if err != nil || res.Unchanged != 0 || res.Credited != 0 || len(res.Skipped) != 1 ||
				!errors.Is(res.Skipped[0].Err, domain.ErrImportPasswordDiffers) {
				t.Fatalf("with skipping: %+v %v", res, err)
			}
			if bal, n := importedBalance(t, db, "victim"); bal != 0 || n != 0 {
				t.Fatalf("the squatter was credited %d in %d transactions", bal, n)
			}
			// The operator who checked the account credits it; its password stays.
			res, err = db.ImportUsers(ctx, rows, domain.ImportOptions{CreditExisting: true})
			if err != nil || res.Credited != 1 {
				t.Fatalf("--credit-existing: %+v %v", res, err)
			}
			if u, err := db.UserByUsername(ctx, "victim"); err != nil || u.PasswordHash != squatter.PasswordHash {
				t.Fatalf("the password changed: %+v %v", u, err)
			}
		})
		t.Run("a user the import created stays its own after a login rehashed it", func(t *testing.T) {
			ann, err := db.UserByUsername(ctx, "ann")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQL().Exec(db.SQL().Rebind(`UPDATE users SET password_hash = ? WHERE id = ?`), "$2a$10$rehashed-at-login", ann.ID); err != nil {
				t.Fatal(err)
			}
			res, err := db.ImportUsers(ctx, []domain.ImportedUser{importRow(2, "ann", "ann@example.com", 150)}, domain.ImportOptions{})
			if err != nil || res.Unchanged != 1 || len(res.Skipped) != 0 {
				t.Fatalf("re-import after a rehash: %+v %v", res, err)
			}
		})
		t.Run("an email in NFC and in NFD is one address", func(t *testing.T) {
			res, err := db.ImportUsers(ctx, []domain.ImportedUser{importRow(2, "jose", "jose\u0301@example.com", 0),
				importRow(3, "jose", "jos\u00e9@example.com", 0)}, domain.ImportOptions{})
			if err != nil || res.Created != 1 || res.Unchanged != 1 {
				t.Fatalf("got %+v %v", res, err)
			}
			if u, err := db.UserByEmail(ctx, "jos\u00e9@example.com"); err != nil || u.Username != "jose" {
				t.Fatalf("lookup: %+v %v", u, err)
			}
		})
		t.Run("more rows than one chunk", func(t *testing.T) {
			var rows []domain.ImportedUser
			for i := range 1203 {
				rows = append(rows, importRow(i+2, fmt.Sprintf("chunk%04d", i), fmt.Sprintf("chunk%04d@example.com", i), domain.Cents(i)))
			}
			rows = append(rows, importRow(1205, "chunk0001", "chunk0001@example.com", 1)) // a repeat, chunks apart
			res, err := db.ImportUsers(ctx, rows, domain.ImportOptions{})
			if err != nil || res.Created != 1203 || res.Unchanged != 1 || res.Credited != 1202 {
				t.Fatalf("got %+v %v", res, err)
			}
		})
	})
}
