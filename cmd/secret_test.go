package cmd

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/rs/zerolog"
)

func TestEnsureSecret(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("AUTHSVC_DATABASE_URL", "sqlite:"+filepath.Join(dir, "data", "a.db"))
	load := func() *config.Config {
		cfg, err := config.Load(config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ensureSecret(cfg, zerolog.Nop()); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first := load()
	if len(first.Auth.SecretKey) < config.MinSecretBytes {
		t.Fatalf("generated secret too short: %d", len(first.Auth.SecretKey))
	}
	info, err := os.Stat(filepath.Join(dir, "data", "a.db.secret"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v, want 0600", info.Mode().Perm())
	}
	// A consumer that reads the file verifies with its bytes as they are.
	if raw, err := os.ReadFile(filepath.Join(dir, "data", "a.db.secret")); err != nil || string(raw) != first.Auth.SecretKey {
		t.Fatalf("the secret file holds %q, the key is %q (%v)", raw, first.Auth.SecretKey, err)
	}
	if second := load(); second.Auth.SecretKey != first.Auth.SecretKey {
		t.Fatal("a second start must reuse the stored secret")
	}
}
