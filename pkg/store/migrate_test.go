package store_test

import (
	"context"
	"testing"

	"github.com/authsvc/authsvc/pkg/store"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/rs/zerolog"
)

func TestMigrateUpDownStatus(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db, err := store.Open(b.URL(t), store.Options{Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			pending, err := db.PendingMigrations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if pending == 0 {
				t.Fatal("fresh database: want pending migrations, got none")
			}
			n, err := db.MigrateUp(ctx)
			if err != nil || n != pending {
				t.Fatalf("first up: applied %d, err %v; want %d", n, err, pending)
			}
			if n, err := db.MigrateUp(ctx); err != nil || n != 0 {
				t.Fatalf("second up: applied %d, err %v; want a no-op", n, err)
			}
			states, err := db.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range states {
				if !s.Applied || s.AppliedAt == nil {
					t.Errorf("after up: %s not applied", s.ID)
				}
			}
			if n, err := db.MigrateDown(ctx, 1); err != nil || n != 1 {
				t.Fatalf("down -n 1: rolled back %d, err %v", n, err)
			}
			if p, _ := db.PendingMigrations(ctx); p != 1 {
				t.Fatalf("after down: pending %d, want 1", p)
			}
			if n, err := db.MigrateUp(ctx); err != nil || n != 1 {
				t.Fatalf("up again: applied %d, err %v", n, err)
			}
			// The schema is usable: the ledger's last line of defence holds.
			now := db.Now()
			if _, err := db.SQL().ExecContext(ctx, db.SQL().Rebind(`INSERT INTO users (username, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`), "alice", "a@example.com", "x", now, now); err != nil {
				t.Fatal(err)
			}
			_, err = db.SQL().ExecContext(ctx, db.SQL().Rebind(`INSERT INTO user_credits (user_id, balance, updated_at) VALUES (1, -1, ?)`), now)
			if !store.IsCheckViolation(err) {
				t.Fatalf("negative balance: got %v, want a CHECK violation", err)
			}
			_, err = db.SQL().ExecContext(ctx, db.SQL().Rebind(`INSERT INTO users (username, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`), "ALICE", "b@example.com", "x", now, now)
			if err == nil {
				t.Fatal("username differing only in case: want a unique violation")
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url     string
		dialect store.Dialect
		wantErr string
	}{
		{"sqlite:authsvc.db", store.SQLite, ""},
		{"postgres://u@h/db", store.Postgres, ""},
		{"postgresql+asyncpg://u:p@h:5432/db", store.Postgres, ""},
		{"mysql://u@h/db", "", `database.url: unsupported scheme "mysql" (use postgres:// or sqlite:)`},
		{"sqlite:", "", `database.url: sqlite needs a path (e.g. "sqlite:authsvc.db")`},
		// The URL holds a password: the error must not repeat it.
		{"postgres://admin:S3cretPw@db:54x2/x", "", `database.url: malformed PostgreSQL URL: invalid port ":54x2" after host`},
	}
	for _, tt := range tests {
		d, _, err := store.ParseURL(tt.url)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%s: err %v, want %q", tt.url, err, tt.wantErr)
			}
			continue
		}
		if err != nil || d != tt.dialect {
			t.Errorf("%s: got %s, %v; want %s", tt.url, d, err, tt.dialect)
		}
	}
}

// A path with '#' (as in a repeated subtest's temp dir) must not be cut short.
func TestSQLitePathWithHash(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a#1", "a#2"} {
		db, err := store.Open("sqlite:"+dir+"/"+name+".db", store.Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := db.MigrateUp(context.Background()); err != nil || n == 0 {
			t.Fatalf("%s: applied %d, %v; want a fresh database of its own", name, n, err)
		}
		db.Close()
	}
}

// An older binary meets a schema with a migration it does not know.
func TestMigrateUpToleratesNewerMigrations(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.SQL().ExecContext(ctx, db.SQL().Rebind(`INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)`),
			"9999_from_a_newer_release.sql", db.Now()); err != nil {
			t.Fatal(err)
		}
		if n, err := db.MigrateUp(ctx); err != nil || n != 0 {
			t.Fatalf("up with an unknown applied migration: applied %d, err %v", n, err)
		}
		if p, err := db.PendingMigrations(ctx); err != nil || p != 0 {
			t.Fatalf("pending %d, err %v; want 0 (ready)", p, err)
		}
	})
}
