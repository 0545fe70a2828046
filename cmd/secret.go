package cmd

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store"
	"github.com/rs/zerolog"
)

// secretFile is where a generated development secret is kept: beside the
// SQLite database, or in the working directory for PostgreSQL.
func secretFile(c *config.Config) string {
	if p := store.SQLitePath(c.Database.URL); p != "" {
		return p + ".secret"
	}
	return "authsvc.secret"
}

// ensureSecret fills in auth.secret_key when none is configured outside
// production: it reads the secret file, or generates a random secret and
// writes it there (mode 0600) with a warning, so that serve and the CLI agree
// across restarts.
func ensureSecret(c *config.Config, log zerolog.Logger) error {
	if c.Auth.SecretKey != "" {
		return nil
	}
	if c.IsProduction() {
		return errors.New("auth.secret_key: required in production")
	}
	path := secretFile(c)
	secret, err := readSecret(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret, err = createSecret(path)
		if err == nil {
			log.Warn().Str("file", path).Msg("no auth.secret_key configured: generated one for development; set auth.secret_key in production")
		}
	}
	if err != nil {
		return err
	}
	c.Auth.SecretKey = secret
	return nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the secret file beside the operator's database
	if err != nil {
		return "", err
	}
	secret := strings.TrimSpace(string(b))
	if len(secret) < config.MinSecretBytes {
		return "", fmt.Errorf("secret file %s: too short (%d bytes, need %d); delete it to generate a new one", path, len(secret), config.MinSecretBytes)
	}
	return secret, nil
}

// createSecret writes a new secret to a temporary file and links it into
// place, so that two processes starting together end up with the same one
// and neither ever reads a half-written file.
func createSecret(path string) (string, error) {
	raw := make([]byte, 48)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // the folder of the database file: other tools (backups) may need to list it; the secret file itself is 0600
		return "", fmt.Errorf("secret file: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".authsvc-secret-*")
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		// No newline: the file's bytes are the key, for a consumer that
		// reads it to verify tokens.
		_, err = tmp.WriteString(secret)
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readSecret(path)
	} else if err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	return secret, nil
}
