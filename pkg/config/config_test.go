package config

import (
	"fmt"
	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// chdirTemp runs the test in an empty directory, so no ./config.yaml is read.
func chdirTemp(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDefaults(t *testing.T) {
	chdirTemp(t)
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "sqlite:authsvc.db" || cfg.Server.Addr != ":8080" || cfg.Auth.BcryptCost != 12 ||
		cfg.Server.ShutdownGrace != 15*time.Second || cfg.Log.Format != "console" || !cfg.Database.AutoMigrate ||
		cfg.Mail.StartTLS != true || cfg.RateLimit.AuthPerMinute != 100 || cfg.Credits.UserSelfAdd ||
		!cfg.Credits.GroupCommit || cfg.Credits.GroupCommitMaxBatch != 64 {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	dir := chdirTemp(t)
	file := filepath.Join(dir, "custom.yaml")
	writeFile(t, file, "database:\n  url: sqlite:from-file.db\nauth:\n  bcrypt_cost: 13\n  issuer: file-issuer\n")
	flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
	flags.String("database-url", "", "")
	keys := map[string]string{"database-url": "database.url"}
	load := func(t *testing.T) *Config {
		t.Helper()
		cfg, err := Load(Options{File: file, Flags: flags, FlagKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("file beats default", func(t *testing.T) {
		cfg := load(t)
		if cfg.Database.URL != "sqlite:from-file.db" || cfg.Auth.BcryptCost != 13 || cfg.Auth.Audience != "" || cfg.Auth.KeysRefreshInterval != 5*time.Second {
			t.Fatalf("got %s %d %s", cfg.Database.URL, cfg.Auth.BcryptCost, cfg.Auth.Audience)
		}
	})
	t.Run("original env name beats file", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "sqlite:from-legacy-env.db")
		if got := load(t).Database.URL; got != "sqlite:from-legacy-env.db" {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("AUTHSVC env beats original name and file", func(t *testing.T) {
		t.Setenv("DATABASE_URL", "sqlite:from-legacy-env.db")
		t.Setenv("AUTHSVC_DATABASE_URL", "sqlite:from-env.db")
		t.Setenv("AUTHSVC_AUTH_ISSUER", "env-issuer")
		cfg := load(t)
		if cfg.Database.URL != "sqlite:from-env.db" || cfg.Auth.Issuer != "env-issuer" {
			t.Fatalf("got %s %s", cfg.Database.URL, cfg.Auth.Issuer)
		}
	})
	t.Run("flag beats env", func(t *testing.T) {
		t.Setenv("AUTHSVC_DATABASE_URL", "sqlite:from-env.db")
		if err := flags.Set("database-url", "sqlite:from-flag.db"); err != nil {
			t.Fatal(err)
		}
		if got := load(t).Database.URL; got != "sqlite:from-flag.db" {
			t.Fatalf("got %s", got)
		}
	})
}

func TestConfigFileSearch(t *testing.T) {
	dir := chdirTemp(t)
	writeFile(t, filepath.Join(dir, "config.yaml"), "server:\n  addr: \":9999\"\n")
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != ":9999" || cfg.File != "config.yaml" {
		t.Fatalf("./config.yaml not read: addr %s file %q", cfg.Server.Addr, cfg.File)
	}
	if _, err := Load(Options{File: filepath.Join(dir, "missing.yaml")}); err == nil || !strings.Contains(fmt.Sprint(err), "missing.yaml") {
		t.Fatalf("explicit missing file: got %v", err)
	}
}

func TestUnknownFileKeyIsAnError(t *testing.T) {
	dir := chdirTemp(t)
	writeFile(t, filepath.Join(dir, "config.yaml"), "mail:\n  max_attempt: 3\n")
	_, err := Load(Options{})
	if err == nil || !strings.Contains(fmt.Sprint(err), "max_attempt") {
		t.Fatalf("misspelt key: got %v, want an error naming it", err)
	}
}

func TestOriginalEnvNames(t *testing.T) {
	chdirTemp(t)
	env := map[string]string{
		"SECRET_KEY":                  strings.Repeat("s", 40),
		"ACCESS_TOKEN_EXPIRE_MINUTES": "30",
		"MAIL_SERVER":                 "smtp.example.com",
		"MAIL_PORT":                   "465",
		"MAIL_USERNAME":               "mailer",
		"MAIL_PASSWORD":               "pw",
		"MAIL_FROM":                   "noreply@example.com",
		"MAIL_SSL_TLS":                "True",
		"MAIL_STARTTLS":               "False",
		"FRONTEND_URL":                "https://app.example.com",
		"LOG_LEVEL":                   "DEBUG",
		"JSON_LOGS":                   "True",
		"ENABLE_LOGSTASH":             "True",
		"SYSLOG_HOST":                 "172.17.0.1",
		"SYSLOG_PORT":                 "5141",
		"ENVIRONMENT":                 "production",
		"ALGORITHM":                   "HS256",
		"DATABASE_URL":                "postgresql+asyncpg://user:pw@db:5432/main_db",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Auth.SecretKey, cfg.Auth.AccessTokenExpireMinutes, cfg.Mail.Host, cfg.Mail.Port, cfg.Mail.Username,
		cfg.Mail.Password, cfg.Mail.From, cfg.Mail.SSLTLS, cfg.Mail.StartTLS, cfg.Mail.FrontendURL, cfg.Log.Level,
		cfg.Log.Format, cfg.Log.LogstashAddr, cfg.Environment, cfg.Database.URL}
	want := []any{strings.Repeat("s", 40), 30, "smtp.example.com", 465, "mailer", "pw", "noreply@example.com", true, false,
		"https://app.example.com", "DEBUG", "json", "172.17.0.1:5141", "production", "postgresql+asyncpg://user:pw@db:5432/main_db"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func TestListsFromEnvironment(t *testing.T) {
	chdirTemp(t)
	t.Setenv("AUTHSVC_SERVER_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1")
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.0/8", "192.168.1.1"}; !reflect.DeepEqual(cfg.Server.TrustedProxies, want) {
		t.Fatalf("got %q, want %q", cfg.Server.TrustedProxies, want)
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTHSVC_DATABASE_URL": "mysql://u@h/db"}, `database.url: unsupported scheme "mysql" (use postgres:// or sqlite:)`},
		{map[string]string{"AUTHSVC_ENVIRONMENT": "staging"}, `environment: must be development or production, not "staging"`},
		{map[string]string{"AUTHSVC_SERVER_ADDR": "8080"}, `server.addr: must be host:port or :port`},
		{map[string]string{"AUTHSVC_SERVER_TRUSTED_PROXIES": "10.0.0.0/99"}, `server.trusted_proxies: "10.0.0.0/99" is not a CIDR or an IP address`},
		{map[string]string{"AUTHSVC_SERVER_CORS_ALLOWED_ORIGINS": "app.example.com"}, `server.cors_allowed_origins: "app.example.com" is not an origin`},
		{map[string]string{"AUTHSVC_AUTH_SECRET_KEY": "short"}, `auth.secret_key: too short: 5 bytes, need at least 32 (generate one with: openssl rand -base64 48)`},
		{map[string]string{"AUTHSVC_AUTH_KEY_ENCRYPTION_KEY": "short"}, `auth.key_encryption_key: too short: 5 bytes, need at least 32`},
		{map[string]string{"AUTHSVC_AUTH_KEY_ENCRYPTION_KEY": strings.Repeat("s", 40), "AUTHSVC_AUTH_SECRET_KEY": strings.Repeat("s", 40)}, `auth.key_encryption_key: must differ from auth.secret_key`},
		{map[string]string{"AUTHSVC_AUTH_KEYS_REFRESH_INTERVAL": "30s"}, `auth.keys_refresh_interval: must be between 100ms and 10s, not 30s`},
		{map[string]string{"AUTHSVC_AUTH_JWKS_MAX_AGE": "-1s"}, `auth.jwks_max_age: must be between 0s and 24h, not -1s`},
		{map[string]string{"AUTHSVC_AUTH_ALGORITHM": "RS256"}, `auth.algorithm: only HS256 is supported, not "RS256"`},
		{map[string]string{"AUTHSVC_AUTH_BCRYPT_COST": "4"}, `auth.bcrypt_cost: must be between 10 and 14, not 4`},
		{map[string]string{"AUTHSVC_AUTH_BCRYPT_COST": "15"}, `auth.bcrypt_cost: must be between 10 and 14, not 15`},
		{map[string]string{"AUTHSVC_AUTH_ACCESS_TOKEN_EXPIRE_MINUTES": "0"}, `auth.access_token_expire_minutes: must be at least 1`},
		{map[string]string{"AUTHSVC_AUTH_FAILED_LOGIN_LIMIT": "0"}, `auth.failed_login_limit: must be at least 1, not 0`},
		{map[string]string{"AUTHSVC_AUTH_FAILED_LOGIN_WINDOW": "10s"}, `auth.failed_login_window: must be at least 1m, not 10s`},
		{map[string]string{"AUTHSVC_MAIL_DRIVER": "smtp"}, `mail.host: required when mail.driver is smtp`},
		{map[string]string{"AUTHSVC_MAIL_DRIVER": "carrier-pigeon"}, `mail.driver: must be log or smtp, not "carrier-pigeon"`},
		{map[string]string{"AUTHSVC_MAIL_PORT": "70000"}, `mail.port: must be between 1 and 65535, not 70000`},
		{map[string]string{"AUTHSVC_MAIL_FROM": "nobody"}, `mail.from: not an email address: "nobody"`},
		{map[string]string{"AUTHSVC_MAIL_FRONTEND_URL": "/relative"}, `mail.frontend_url: must be an absolute http(s) URL, not "/relative"`},
		{map[string]string{"AUTHSVC_LOG_LEVEL": "loud"}, `log.level: unknown level "loud"`},
		{map[string]string{"AUTHSVC_LOG_FORMAT": "xml"}, `log.format: must be console or json, not "xml"`},
		{map[string]string{"AUTHSVC_LOG_LOGSTASH_ADDR": "logstash"}, `log.logstash_addr: must be host:port`},
		{map[string]string{"AUTHSVC_RATELIMIT_AUTH_PER_MINUTE": "0"}, `ratelimit: auth_per_minute and default_per_minute must be at least 1`},
		{map[string]string{"AUTHSVC_CREDITS_GROUP_COMMIT_MAX_BATCH": "0"}, `credits.group_commit_max_batch: must be between 1 and 1000, not 0`},
		{map[string]string{"AUTHSVC_CREDITS_GROUP_COMMIT_MAX_BATCH": "1001"}, `credits.group_commit_max_batch: must be between 1 and 1000, not 1001`},
		{map[string]string{"AUTHSVC_RATELIMIT_REDIS_URL": "http://x"}, `ratelimit.redis_url: must be a redis:// or rediss:// URL`},
		{map[string]string{"AUTHSVC_ENVIRONMENT": "production"}, `auth.secret_key: required in production`},
		{map[string]string{"AUTHSVC_ENVIRONMENT": "production", "AUTHSVC_AUTH_SECRET_KEY": strings.Repeat("x", 31)}, `auth.secret_key: too short: 31 bytes, need at least 32 (generate one with: openssl rand -base64 48)`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			chdirTemp(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := Load(Options{})
			if err == nil || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("low bcrypt cost is allowed only with AUTHSVC_TESTING=1", func(t *testing.T) {
		chdirTemp(t)
		t.Setenv("AUTHSVC_AUTH_BCRYPT_COST", "4")
		t.Setenv("AUTHSVC_TESTING", "1")
		if _, err := Load(Options{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("production with a long secret starts and logs JSON", func(t *testing.T) {
		chdirTemp(t)
		t.Setenv("AUTHSVC_ENVIRONMENT", "production")
		t.Setenv("AUTHSVC_AUTH_SECRET_KEY", strings.Repeat("x", 32))
		cfg, err := Load(Options{})
		if err != nil || cfg.Log.Format != "json" {
			t.Fatalf("got %v, format %q", err, cfg.Log.Format)
		}
	})
}

// TestExampleFileMatchesDefaults keeps config.example.yaml in step with Defaults().
func TestExampleFileMatchesDefaults(t *testing.T) {
	raw, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	flat := map[string]any{}
	testkit.Flatten("", doc, flat)
	defaults := Defaults()
	for key, want := range defaults {
		got, ok := flat[key]
		if !ok {
			t.Errorf("config.example.yaml lacks %s", key)
			continue
		}
		if normalize(got) != normalize(want) {
			t.Errorf("%s: example has %v, default is %v", key, got, want)
		}
	}
	for key := range flat {
		if _, ok := defaults[key]; !ok {
			t.Errorf("config.example.yaml has %s, which is not a key", key)
		}
	}
}

func normalize(v any) string {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return "[]"
		}
	case []string:
		if len(x) == 0 {
			return "[]"
		}
	}
	return fmt.Sprint(v)
}

// The fault-handling keys: YAML booleans count as on/off for
// prepared_statements, and bad values are refused with the key named.
func TestFaultSettings(t *testing.T) {
	dir := chdirTemp(t)
	for _, tc := range []struct {
		yaml   string
		on     bool
		errKey string
	}{
		{"", true, ""},
		{"database:\n  prepared_statements: off\n", false, ""},
		{"database:\n  prepared_statements: false\n", false, ""},
		{"database:\n  prepared_statements: \"on\"\n", true, ""},
		{"database:\n  prepared_statements: auto\n", false, "database.prepared_statements"},
		{"database:\n  sqlite_synchronous: \"OFF\"\n", true, "database.sqlite_synchronous"},
		{"database:\n  query_timeout: 0s\n", true, "database.query_timeout"},
		{"server:\n  shutdown_delay: -1s\n", true, "server.shutdown_delay"},
	} {
		file := filepath.Join(dir, "c.yaml")
		writeFile(t, file, tc.yaml)
		cfg, err := Load(Options{File: file})
		switch {
		case tc.errKey != "":
			if err == nil || !strings.Contains(fmt.Sprint(err), tc.errKey) {
				t.Errorf("%q: err %v, want one naming %s", tc.yaml, err, tc.errKey)
			}
		case err != nil:
			t.Errorf("%q: %v", tc.yaml, err)
		case cfg.PreparedStatementsOn() != tc.on:
			t.Errorf("%q: prepared statements on = %v, want %v", tc.yaml, cfg.PreparedStatementsOn(), tc.on)
		}
	}
}

// TestFailedLoginSettings: the per-account limit and its window come from
// the configuration, with the domain's defaults.
func TestFailedLoginSettings(t *testing.T) {
	chdirTemp(t)
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.FailedLoginLimit != domain.DefaultFailedLoginLimit || cfg.Auth.FailedLoginWindow != domain.DefaultFailedLoginWindow {
		t.Fatalf("defaults: %d per %s", cfg.Auth.FailedLoginLimit, cfg.Auth.FailedLoginWindow)
	}
	t.Setenv("AUTHSVC_AUTH_FAILED_LOGIN_LIMIT", "5")
	t.Setenv("AUTHSVC_AUTH_FAILED_LOGIN_WINDOW", "15m")
	if cfg, err = Load(Options{}); err != nil {
		t.Fatal(err)
	}
	if cfg.Auth.FailedLoginLimit != 5 || cfg.Auth.FailedLoginWindow != 15*time.Minute {
		t.Fatalf("from the environment: %d per %s", cfg.Auth.FailedLoginLimit, cfg.Auth.FailedLoginWindow)
	}
}

func TestWebAuthnSettings(t *testing.T) {
	on := func(extra map[string]string) map[string]string {
		env := map[string]string{"AUTHSVC_WEBAUTHN_ENABLED": "true"}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	refused := []struct {
		env  map[string]string
		want string
	}{
		{on(nil), `webauthn.rp_id: must be a domain`},
		{on(map[string]string{"AUTHSVC_WEBAUTHN_RP_ID": "example.com"}), `webauthn.origins: list at least one origin`},
		{on(map[string]string{"AUTHSVC_WEBAUTHN_RP_ID": "https://example.com", "AUTHSVC_WEBAUTHN_ORIGINS": "https://example.com"}), `webauthn.rp_id: must be a domain`},
		{on(map[string]string{"AUTHSVC_WEBAUTHN_RP_ID": "example.com", "AUTHSVC_WEBAUTHN_ORIGINS": "https://example.com/login"}), `"https://example.com/login" is not an origin`},
		{on(map[string]string{"AUTHSVC_WEBAUTHN_RP_ID": "example.com", "AUTHSVC_WEBAUTHN_ORIGINS": "http://login.example.com"}), `must be https (http only on localhost)`},
		{on(map[string]string{"AUTHSVC_WEBAUTHN_RP_ID": "example.com", "AUTHSVC_WEBAUTHN_ORIGINS": "https://evilexample.com"}), `"https://evilexample.com" is not within webauthn.rp_id`},
	}
	for _, tt := range refused {
		t.Run(tt.want, func(t *testing.T) {
			chdirTemp(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if _, err := Load(Options{}); err == nil || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("disabled needs nothing; enabled with a relying party loads its origins", func(t *testing.T) {
		chdirTemp(t)
		if cfg, err := Load(Options{}); err != nil || cfg.WebAuthn.Enabled {
			t.Fatalf("defaults: %+v, %v", cfg.WebAuthn, err)
		}
		t.Setenv("AUTHSVC_WEBAUTHN_ENABLED", "true")
		t.Setenv("AUTHSVC_WEBAUTHN_RP_ID", "example.com")
		t.Setenv("AUTHSVC_WEBAUTHN_ORIGINS", "https://login.example.com, https://example.com:8443,http://localhost:3000")
		if _, err := Load(Options{}); err == nil {
			t.Fatal("http://localhost is outside rp_id example.com and was accepted")
		}
		t.Setenv("AUTHSVC_WEBAUTHN_ORIGINS", "https://login.example.com, https://example.com:8443")
		cfg, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"https://login.example.com", "https://example.com:8443"}
		if !reflect.DeepEqual(cfg.WebAuthn.Origins, want) || cfg.WebAuthn.RPName != "authsvc" {
			t.Fatalf("got %+v", cfg.WebAuthn)
		}
	})
}

func TestOIDCSettings(t *testing.T) {
	refused := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"AUTHSVC_OIDC_ENABLED": "true"}, `oidc.issuer: is required when oidc.enabled is true`},
		{map[string]string{"AUTHSVC_OIDC_ENABLED": "true", "AUTHSVC_OIDC_ISSUER": "http://login.example.com"}, `must be https (http only on a loopback host)`},
		{map[string]string{"AUTHSVC_OIDC_ENABLED": "true", "AUTHSVC_OIDC_ISSUER": "https://example.com/idp"}, `must be scheme://host[:port] with nothing after it`},
		{map[string]string{"AUTHSVC_OIDC_ENABLED": "true", "AUTHSVC_OIDC_ISSUER": "https://example.com?x=1"}, `must be scheme://host[:port] with nothing after it`},
		{map[string]string{"AUTHSVC_OIDC_CODE_LIFETIME": "0s"}, `oidc.code_lifetime: must be a positive duration`},
	}
	for _, tt := range refused {
		t.Run(tt.want, func(t *testing.T) {
			chdirTemp(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			if _, err := Load(Options{}); err == nil || !strings.Contains(fmt.Sprint(err), tt.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tt.want)
			}
		})
	}
	for _, issuer := range []string{"https://login.example.com", "https://login.example.com:8443/", "http://localhost:8080", "http://127.0.0.1:8080"} {
		t.Run("accepts "+issuer, func(t *testing.T) {
			chdirTemp(t)
			t.Setenv("AUTHSVC_OIDC_ENABLED", "true")
			t.Setenv("AUTHSVC_OIDC_ISSUER", issuer)
			if cfg, err := Load(Options{}); err != nil || cfg.OIDC.Issuer != issuer || cfg.OIDC.CodeLifetime != time.Minute {
				t.Fatalf("%+v %v", cfg.OIDC, err)
			}
		})
	}
}
