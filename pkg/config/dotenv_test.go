package config

import (
	"errors"
	"github.com/authsvc/authsvc/internal/testkit"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestDotenv(t *testing.T) {
	t.Run("the original's .env is read from the working directory", func(t *testing.T) {
		dir := chdirTemp(t)
		writeFile(t, filepath.Join(dir, ".env"), testkit.OriginalDotenv)
		cfg, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.EnvFile != ".env" || cfg.Database.URL != "postgresql+asyncpg://user:password@localhost:5432/main_db" ||
			cfg.Auth.AccessTokenExpireMinutes != 30 || cfg.Mail.Host != "smtp.example.com" || !cfg.Mail.SSLTLS ||
			cfg.Log.Format != "json" || cfg.Log.LogstashAddr != "172.17.0.1:5141" || cfg.Log.Level != "DEBUG" ||
			cfg.Mail.Driver != "smtp" || len(cfg.Auth.SecretKey) != 32 {
			t.Fatalf("not read as the original would: %+v", cfg)
		}
		want := []string{
			"DEBUG is not used: set LOG_LEVEL=debug for verbose logs",
			"LOG_RETENTION is not used: authsvc writes logs to stderr (and Logstash); keep and expire them where they are collected",
			"SERVICE_NAME is not used: log lines always carry service=authsvc",
			"TEST_DATABASE_URL is not used: authsvc's tests create and drop their own databases",
		}
		if !slices.Equal(cfg.Notices, want) {
			t.Fatalf("notices:\n got %q\nwant %q", cfg.Notices, want)
		}
	})
	t.Run("real environment wins over .env", func(t *testing.T) {
		dir := chdirTemp(t)
		writeFile(t, filepath.Join(dir, ".env"), "DATABASE_URL=sqlite:from-dotenv.db\nAUTHSVC_AUTH_ISSUER=dotenv-issuer\nMAIL_PORT=2525\n")
		t.Setenv("DATABASE_URL", "sqlite:from-env.db")
		t.Setenv("AUTHSVC_MAIL_PORT", "1025")
		cfg, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Database.URL != "sqlite:from-env.db" || cfg.Auth.Issuer != "dotenv-issuer" || cfg.Mail.Port != 1025 {
			t.Fatalf("got %s %s %d", cfg.Database.URL, cfg.Auth.Issuer, cfg.Mail.Port)
		}
	})
	t.Run(".env beats the YAML file, flags beat .env", func(t *testing.T) {
		dir := chdirTemp(t)
		writeFile(t, filepath.Join(dir, ".env"), "AUTHSVC_DATABASE_URL=sqlite:from-dotenv.db\nAUTHSVC_AUTH_ISSUER=dotenv-issuer\n")
		writeFile(t, filepath.Join(dir, "config.yaml"), "database:\n  url: sqlite:from-file.db\nauth:\n  issuer: file-issuer\n")
		flags := pflag.NewFlagSet("test", pflag.ContinueOnError)
		flags.String("database-url", "", "")
		if err := flags.Parse([]string{"--database-url", "sqlite:from-flag.db"}); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Options{Flags: flags, FlagKeys: map[string]string{"database-url": "database.url"}})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Database.URL != "sqlite:from-flag.db" || cfg.Auth.Issuer != "dotenv-issuer" {
			t.Fatalf("got %s %s", cfg.Database.URL, cfg.Auth.Issuer)
		}
	})
	t.Run("values with spaces, quotes and comments", func(t *testing.T) {
		dir := chdirTemp(t)
		writeFile(t, filepath.Join(dir, "custom.env"), "# a comment\nMAIL_FROM=\"Auth Team <auth@example.com>\"\nexport MAIL_PASSWORD='pa ss $word'\nAUTHSVC_AUTH_ISSUER=my issuer\n")
		cfg, err := Load(Options{EnvFile: filepath.Join(dir, "custom.env")})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Mail.From != "Auth Team <auth@example.com>" || cfg.Mail.Password != "pa ss $word" || cfg.Auth.Issuer != "my issuer" {
			t.Fatalf("got %q %q %q", cfg.Mail.From, cfg.Mail.Password, cfg.Auth.Issuer)
		}
	})
	t.Run("an unknown name is reported once", func(t *testing.T) {
		dir := chdirTemp(t)
		writeFile(t, filepath.Join(dir, ".env"), "MAIL_SERVR=smtp.example.com\nLOG_RETENTION=7 days\n")
		t.Setenv("LOG_RETENTION", "14 days")
		cfg, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Notices) != 2 || !strings.HasPrefix(cfg.Notices[1], "MAIL_SERVR is not used: authsvc has no setting") ||
			!strings.HasPrefix(cfg.Notices[0], "LOG_RETENTION is not used") {
			t.Fatalf("notices: %q", cfg.Notices)
		}
	})
	t.Run("a misspelt AUTHSVC_ name in the environment is reported", func(t *testing.T) {
		chdirTemp(t)
		t.Setenv("AUTHSVC_MAIL_HOTS", "smtp.example.com")
		t.Setenv("AUTHSVC_PASSWORD", "read by the CLI")
		t.Setenv("AUTHSVC_TEST_REQUIRE_POSTGRES", "1")
		cfg, err := Load(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Notices, []string{"AUTHSVC_MAIL_HOTS is not used: authsvc has no setting of that name (config.example.yaml lists every setting)"}) {
			t.Fatalf("notices %q", cfg.Notices)
		}
	})
	t.Run("a named env file must exist", func(t *testing.T) {
		chdirTemp(t)
		_, err := Load(Options{EnvFile: "missing.env"})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestMailDriver(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"nothing set: log", nil, "log"},
		{"MAIL_SERVER alone selects smtp", map[string]string{"MAIL_SERVER": "localhost", "MAIL_PORT": "1025", "MAIL_STARTTLS": "False"}, "smtp"},
		{"mail.host alone selects smtp", map[string]string{"AUTHSVC_MAIL_HOST": "localhost"}, "smtp"},
		{"an explicit driver wins", map[string]string{"MAIL_SERVER": "localhost", "AUTHSVC_MAIL_DRIVER": "log"}, "log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chdirTemp(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(Options{})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Mail.Driver != tc.want {
				t.Fatalf("driver %q, want %q", cfg.Mail.Driver, tc.want)
			}
		})
	}
}

// Values read as python-dotenv (the original's reader) reads them.
func TestDotenvAsTheOriginalReadsIt(t *testing.T) {
	dir := chdirTemp(t)
	writeFile(t, filepath.Join(dir, ".env"), "SECRET_KEY=ab$cd$EF12-0123456789abcdef0123456789\n"+
		"MAIL_PASSWORD=pa#ss\"w\\d # a comment\n"+
		"MAIL_USERNAME=\"quoted $X and ${AUTHSVC_TEST_DOTENV_VAR}\"\n"+
		"ALGORITHM='HS256'\nMAIL_FROM='$single@example.com'\n"+
		"FRONTEND_URL=http://localhost:3000/#/app\n")
	t.Setenv("AUTHSVC_TEST_DOTENV_VAR", "expanded")
	cfg, err := Load(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ got, want string }{
		{cfg.Auth.SecretKey, "ab$cd$EF12-0123456789abcdef0123456789"},
		{cfg.Mail.Password, `pa#ss"w\d`},
		{cfg.Mail.Username, "quoted $X and expanded"},
		{cfg.Mail.From, "$single@example.com"},
		{cfg.Mail.FrontendURL, "http://localhost:3000/#/app"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
