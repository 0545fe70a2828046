package credits_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/authsvc/authsvc/pkg/credits"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// recorder is a CreditMetrics that remembers what it was told.
type recorder struct {
	mu             sync.Mutex
	added, used    domain.Cents
	refusedReasons []string
}

func (r *recorder) Added(c domain.Cents) { r.mu.Lock(); r.added += c; r.mu.Unlock() }
func (r *recorder) Used(c domain.Cents)  { r.mu.Lock(); r.used += c; r.mu.Unlock() }
func (r *recorder) Refused(reason string) {
	r.mu.Lock()
	r.refusedReasons = append(r.refusedReasons, reason)
	r.mu.Unlock()
}

func newUser(t *testing.T, db *storetest.DB, name string, admin bool) *domain.User {
	t.Helper()
	u := &domain.User{Username: name, Email: name + "@example.com", PasswordHash: "x", IsAdmin: admin}
	if err := db.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func str(s string) *string { return &s }

func wantError(t *testing.T, err error, code, reason string) {
	t.Helper()
	if domain.ErrorCode(err) != code || domain.ErrorReason(err) != reason {
		t.Fatalf("got %v (code %q reason %q), want %s/%s", err, domain.ErrorCode(err), domain.ErrorReason(err), code, reason)
	}
}

func badFields(t *testing.T, err error) [][]string {
	t.Helper()
	var e *domain.Error
	if domain.ErrorCode(err) != domain.EVALIDATION || !errors.As(err, &e) {
		t.Fatalf("got %v, want a validation error", err)
	}
	var locs [][]string
	for _, f := range e.Fields {
		locs = append(locs, f.Loc)
	}
	return locs
}

func TestService(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		ctx := context.Background()
		m := &recorder{}
		svc := credits.New(db, credits.Options{Metrics: m})
		admin, alice := newUser(t, db, "root", true), newUser(t, db, "Alice", false)

		t.Run("an admin adds to themselves", func(t *testing.T) {
			tx, err := svc.Add(ctx, admin, domain.CreditRequest{Amount: "50.00"})
			if err != nil || tx.UserID != admin.ID || tx.NewBalance != 5000 || tx.Type != domain.CreditAdded {
				t.Fatalf("got %+v, %v", tx, err)
			}
		})
		t.Run("an admin adds to a username, matched case-insensitively", func(t *testing.T) {
			tx, err := svc.Add(ctx, admin, domain.CreditRequest{Amount: "0.1", Username: "alice"})
			if err != nil || tx.UserID != alice.ID {
				t.Fatalf("got %+v, %v", tx, err)
			}
			tx, err = svc.Add(ctx, admin, domain.CreditRequest{Amount: "0.2", Username: "ALICE"})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(tx.NewBalance); string(got) != "0.3" {
				t.Fatalf("0.1 + 0.2 = %s, want 0.3", got)
			}
		})
		t.Run("an admin naming an unknown user gets not found", func(t *testing.T) {
			_, err := svc.Add(ctx, admin, domain.CreditRequest{Amount: "1", Username: "nobody"})
			wantError(t, err, domain.ENOTFOUND, "user_not_found")
		})
		t.Run("an ordinary user may not add without self-add", func(t *testing.T) {
			_, err := svc.Add(ctx, alice, domain.CreditRequest{Amount: "1"})
			wantError(t, err, domain.EFORBIDDEN, "forbidden")
		})
		t.Run("an ordinary user naming another user is forbidden, existing or not", func(t *testing.T) {
			open := credits.New(db, credits.Options{UserSelfAdd: true})
			for _, name := range []string{"root", "nobody"} {
				_, err := open.Add(ctx, alice, domain.CreditRequest{Amount: "1", Username: name})
				wantError(t, err, domain.EFORBIDDEN, "forbidden")
			}
		})
		t.Run("user_self_add lets an ordinary user add to themselves", func(t *testing.T) {
			open := credits.New(db, credits.Options{UserSelfAdd: true})
			for _, name := range []string{"", "alice"} {
				tx, err := open.Add(ctx, alice, domain.CreditRequest{Amount: "1", Username: name})
				if err != nil || tx.UserID != alice.ID {
					t.Fatalf("username %q: got %+v, %v", name, tx, err)
				}
			}
		})
		t.Run("every bad field is reported at once", func(t *testing.T) {
			long := strings.Repeat("r", 129)
			_, err := svc.Use(ctx, alice.ID, domain.CreditRequest{Amount: "1.005", ReferenceID: &long, Description: str(strings.Repeat("é", 501))})
			got := badFields(t, err)
			want := [][]string{{"body", "amount"}, {"body", "reference_id"}, {"body", "description"}}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("fields %v, want %v", got, want)
			}
		})
		t.Run("bad amounts are 422 naming amount", func(t *testing.T) {
			for _, amount := range []string{"0", "-1", "0.001", `"10"`, "null", "", "1e12", "1e309", "1.005", "NaN", "1000000000.01"} {
				_, err := svc.Add(ctx, admin, domain.CreditRequest{Amount: amount})
				if got := badFields(t, err); !slices.EqualFunc(got, [][]string{{"body", "amount"}}, slices.Equal) {
					t.Fatalf("amount %q: fields %v", amount, got)
				}
			}
		})
		t.Run("use beyond the balance is 400 insufficient_credits", func(t *testing.T) {
			_, err := svc.Use(ctx, alice.ID, domain.CreditRequest{Amount: "1000"})
			wantError(t, err, domain.EINVALID, "insufficient_credits")
		})
		t.Run("history validates skip, limit and cursor", func(t *testing.T) {
			_, err := svc.History(ctx, alice.ID, domain.HistoryQuery{Skip: -1, Limit: 201})
			want := [][]string{{"query", "skip"}, {"query", "limit"}}
			if got := badFields(t, err); !slices.EqualFunc(got, want, slices.Equal) {
				t.Fatalf("fields %v", got)
			}
			if _, err := svc.History(ctx, alice.ID, domain.HistoryQuery{}); err == nil {
				t.Fatal("limit 0 accepted")
			}
			for _, cursor := range []string{"abc", "0", "-3", "1.5"} {
				_, err := svc.History(ctx, alice.ID, domain.HistoryQuery{Limit: 10, Cursor: cursor})
				if got := badFields(t, err); !slices.EqualFunc(got, [][]string{{"query", "cursor"}}, slices.Equal) {
					t.Fatalf("cursor %q: fields %v", cursor, got)
				}
			}
			_, err = svc.History(ctx, alice.ID, domain.HistoryQuery{Skip: 2, Limit: 10, Cursor: "3"})
			if got := badFields(t, err); !slices.EqualFunc(got, [][]string{{"query", "skip"}}, slices.Equal) {
				t.Fatalf("skip with cursor: fields %v", got)
			}
			page, err := svc.History(ctx, alice.ID, domain.HistoryQuery{Limit: 200})
			if err != nil || page.TotalCount != 4 || page.NextCursor != nil {
				t.Fatalf("got %+v, %v", page, err)
			}
			first, err := svc.History(ctx, alice.ID, domain.HistoryQuery{Limit: 3})
			if err != nil || len(first.Transactions) != 3 || first.NextCursor == nil {
				t.Fatalf("first page %+v, %v", first, err)
			}
			rest, err := svc.History(ctx, alice.ID, domain.HistoryQuery{Limit: 3, Cursor: *first.NextCursor})
			if err != nil || len(rest.Transactions) != 1 || rest.Transactions[0].ID != page.Transactions[3].ID || rest.NextCursor != nil {
				t.Fatalf("after the cursor %+v, %v", rest, err)
			}
		})
		t.Run("metrics count new changes and refusals, not replays", func(t *testing.T) {
			fresh := &recorder{}
			s := credits.New(db, credits.Options{Metrics: fresh})
			for range 2 {
				if _, err := s.Use(ctx, alice.ID, domain.CreditRequest{Amount: "0.25", ReferenceID: str("m1")}); err != nil {
					t.Fatal(err)
				}
			}
			s.Use(ctx, alice.ID, domain.CreditRequest{Amount: "0.5", ReferenceID: str("m1")}) //nolint:errcheck
			s.Add(ctx, alice, domain.CreditRequest{Amount: "1"})                              //nolint:errcheck
			if fresh.used != 25 || fresh.added != 0 || !slices.Equal(fresh.refusedReasons, []string{"idempotency_conflict", "forbidden"}) {
				t.Fatalf("metrics %+v", fresh)
			}
		})
	})
}

func TestCLIFaces(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		ctx := context.Background()
		svc := credits.New(db, credits.Options{})
		bob := newUser(t, db, "bob", false)

		t.Run("grant credits the named user and the API sees it", func(t *testing.T) {
			tx, err := svc.Grant(ctx, "BOB", "12.50", "grant-1", "welcome")
			if err != nil || tx.UserID != bob.ID || tx.NewBalance != 1250 || *tx.ReferenceID != "grant-1" || *tx.Description != "welcome" {
				t.Fatalf("got %+v, %v", tx, err)
			}
			b, err := svc.Balance(ctx, bob.ID)
			if err != nil || b.Balance != 1250 {
				t.Fatalf("API balance %+v, %v", b, err)
			}
			again, err := svc.Grant(ctx, "bob", "12.50", "grant-1", "")
			if err != nil || again.ID != tx.ID {
				t.Fatalf("repeat %+v, %v", again, err)
			}
		})
		t.Run("grant without reference or description stores nulls", func(t *testing.T) {
			tx, err := svc.Grant(ctx, "bob", "1", "", "")
			if err != nil || tx.ReferenceID != nil || tx.Description != nil {
				t.Fatalf("got %+v, %v", tx, err)
			}
		})
		t.Run("grant errors carry the codes the CLI maps to exit codes", func(t *testing.T) {
			_, err := svc.Grant(ctx, "bob", "1.005", "", "")
			wantError(t, err, domain.EVALIDATION, "validation_error")
			_, err = svc.Grant(ctx, "nobody", "1", "", "")
			wantError(t, err, domain.ENOTFOUND, "user_not_found")
			_, err = svc.Grant(ctx, "bob", "13", "grant-1", "")
			wantError(t, err, domain.ECONFLICT, "idempotency_conflict")
		})
		t.Run("balance by username", func(t *testing.T) {
			b, err := svc.BalanceByUsername(ctx, "Bob")
			if err != nil || b.UserID != bob.ID || b.Balance != 1350 {
				t.Fatalf("got %+v, %v", b, err)
			}
			_, err = svc.BalanceByUsername(ctx, "nobody")
			wantError(t, err, domain.ENOTFOUND, "user_not_found")
		})
	})
}
