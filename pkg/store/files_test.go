package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/authsvc/authsvc/pkg/store"
	"github.com/rs/zerolog"
)

// The SQLite database holds password hashes: its file and the WAL and SHM
// files beside it are readable by the owner only, whatever the umask.
func TestSQLiteFilesAreCreated0600(t *testing.T) {
	old := syscall.Umask(0o022) // the usual umask, which would give 0644
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "sub", "authsvc.db")
	db, err := store.Open("sqlite:"+path, store.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Keep a connection open so that the WAL and SHM files exist.
	conn, err := db.SQL().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `CREATE TABLE perm_probe (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(p), err)
		}
		if mode := info.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(p), mode)
		}
	}
}
