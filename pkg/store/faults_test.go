package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/lib/pq"
	"github.com/rs/zerolog"
)

// Every pooled SQLite connection runs with the durable synchronous=FULL
// unless configured otherwise.
func TestSQLiteSynchronousOnEveryConnection(t *testing.T) {
	for _, tc := range []struct {
		setting string
		want    int // PRAGMA synchronous: 1 NORMAL, 2 FULL, 3 EXTRA
	}{{"", 2}, {"FULL", 2}, {"normal", 1}, {"EXTRA", 3}} {
		t.Run("setting "+tc.setting, func(t *testing.T) {
			const conns = 4
			url := "sqlite:" + filepath.Join(t.TempDir(), "authsvc.db")
			db, err := store.Open(url, store.Options{MaxOpenConns: conns, Logger: zerolog.Nop(), SQLiteSynchronous: tc.setting})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			// Hold every connection at once, so that each is a distinct one.
			for i := range conns {
				c, err := db.SQL().Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				var got int
				if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != tc.want {
					t.Errorf("connection %d: synchronous = %d, want %d", i, got, tc.want)
				}
			}
			if n := db.Stats().OpenConnections; n != conns {
				t.Fatalf("%d connections open, want %d distinct ones", n, conns)
			}
		})
	}
	if _, err := store.Open("sqlite:"+filepath.Join(t.TempDir(), "x.db"), store.Options{SQLiteSynchronous: "OFF"}); domain.ErrorCode(err) != domain.EVALIDATION {
		t.Fatalf("synchronous OFF: %v, want EVALIDATION", err)
	}
}

// A PostgreSQL "server" that accepts connections and reads but never
// answers: a store call ends at the query timeout with EUNAVAILABLE
// instead of hanging (lib/pq alone would wait for the server forever).
func TestSilentServerHitsTheDeadline(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }() //nolint:errcheck // silent until closed
		}
	}()
	const timeout = 300 * time.Millisecond
	db, err := store.Open("postgres://postgres@"+ln.Addr().String()+"/x?sslmode=disable",
		store.Options{QueryTimeout: timeout, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for name, call := range map[string]func() error{
		"read":        func() error { _, err := db.AuthUser(context.Background(), 1, "jti", "sid"); return err },
		"transaction": func() error { _, err := db.UserByID(context.Background(), 1); return err },
	} {
		start := time.Now()
		err := call()
		took := time.Since(start)
		if domain.ErrorCode(err) != domain.EUNAVAILABLE {
			t.Errorf("%s: %v, want EUNAVAILABLE", name, err)
		}
		if took > timeout+time.Second {
			t.Errorf("%s took %s, want about %s", name, took, timeout)
		}
	}
}

// The refusals of a read-only database are recognised: 25006 whatever the
// statement, 0A000 only for a standby refusing READ WRITE.
func TestIsReadOnly(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pq.Error{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}, true},
		{fmt.Errorf("begin: %w", &pq.Error{Code: "0A000", Message: "cannot set transaction read-write mode during recovery"}), true},
		{&pq.Error{Code: "0A000", Message: "cannot use some other feature"}, false},
		{&pq.Error{Code: "23505", Message: "duplicate key"}, false},
		{errors.New("25006"), false},
	} {
		if got := store.IsReadOnly(tc.err); got != tc.want {
			t.Errorf("IsReadOnly(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
