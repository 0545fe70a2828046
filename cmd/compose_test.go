package cmd_test

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/config"
	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       string            `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Healthcheck *struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
		DependsOn map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
	} `yaml:"services"`
}

// interpolate applies compose's ${NAME:-default} with NAME unset.
var interpolation = regexp.MustCompile(`\$\{[A-Z0-9_]+:-([^}]*)\}`)

// compose.yaml (Docker is not available in CI): the services, their order,
// and every environment name checked against the configuration keys; the
// commands run with the real binary.
func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal([]byte(interpolation.ReplaceAllString(string(raw), "$1")), &f); err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range f.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"authsvc", "mailpit", "migrate", "postgres"}) {
		t.Fatalf("services %v", names)
	}
	pg, mp, mig, srv := f.Services["postgres"], f.Services["mailpit"], f.Services["migrate"], f.Services["authsvc"]

	t.Run("postgres is healthy before migrate runs, migrate succeeds before authsvc starts", func(t *testing.T) {
		if pg.Healthcheck == nil || !strings.Contains(strings.Join(pg.Healthcheck.Test, " "), "pg_isready") {
			t.Fatalf("postgres healthcheck %+v", pg.Healthcheck)
		}
		if mig.DependsOn["postgres"].Condition != "service_healthy" {
			t.Fatalf("migrate depends_on %+v", mig.DependsOn)
		}
		if srv.DependsOn["migrate"].Condition != "service_completed_successfully" {
			t.Fatalf("authsvc depends_on %+v", srv.DependsOn)
		}
		if _, ok := srv.DependsOn["mailpit"]; !ok {
			t.Fatal("authsvc does not depend on mailpit")
		}
		if !strings.HasPrefix(mp.Image, "axllent/mailpit:") || !slices.Contains(mp.Ports, "8025:8025") {
			t.Fatalf("mailpit %+v", mp)
		}
	})
	t.Run("authsvc and migrate are built from the Dockerfile and run real commands", func(t *testing.T) {
		for name, s := range map[string]struct {
			build string
			cmd   []string
		}{"migrate": {mig.Build, mig.Command}, "authsvc": {srv.Build, srv.Command}} {
			if _, err := os.Stat(filepath.Join("..", s.build, "Dockerfile")); s.build == "" || err != nil {
				t.Fatalf("%s: build %q: %v", name, s.build, err)
			}
			r := newCLI(t, "").run(append(slices.Clone(s.cmd), "--help")...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Fatalf("%s: authsvc %v is not a command: %+v", name, s.cmd, r)
			}
		}
		if !slices.Equal(mig.Command[:2], []string{"migrate", "up"}) || !slices.Equal(srv.Command, []string{"serve"}) {
			t.Fatalf("commands %v %v", mig.Command, srv.Command)
		}
	})
	t.Run("every environment name is a configuration key", func(t *testing.T) {
		known := config.KnownEnvNames()
		for name, s := range map[string]map[string]string{"migrate": mig.Environment, "authsvc": srv.Environment} {
			if len(s) == 0 {
				t.Fatalf("%s has no environment", name)
			}
			for env := range s {
				if !known[env] {
					t.Errorf("%s: %s is not a name authsvc reads", name, env)
				}
			}
		}
	})
	t.Run("the configuration loads: postgres of the compose file, SMTP to mailpit, port 8080", func(t *testing.T) {
		t.Chdir(t.TempDir())
		for _, kv := range cleanEnvNames() {
			t.Setenv(kv, "")
			os.Unsetenv(kv)
		}
		for k, v := range srv.Environment {
			t.Setenv(k, v)
		}
		cfg, err := config.Load(config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(cfg.Database.URL)
		if err != nil || u.Hostname() != "postgres" || u.User.Username() != pg.Environment["POSTGRES_USER"] ||
			u.Path != "/"+pg.Environment["POSTGRES_DB"] || cfg.Database.AutoMigrate {
			t.Fatalf("database %q auto_migrate %v", cfg.Database.URL, cfg.Database.AutoMigrate)
		}
		if pw, _ := u.User.Password(); pw != pg.Environment["POSTGRES_PASSWORD"] {
			t.Fatal("the database password differs from POSTGRES_PASSWORD")
		}
		if cfg.Mail.Driver != "smtp" || cfg.Mail.Host != "mailpit" || cfg.Mail.StartTLS || !slices.Contains(mp.Ports, "1025:1025") {
			t.Fatalf("mail %+v", cfg.Mail)
		}
		_, port, _ := net.SplitHostPort(cfg.Server.Addr)
		if !slices.Contains(srv.Ports, "8080:"+port) {
			t.Fatalf("authsvc ports %v, server.addr %s", srv.Ports, cfg.Server.Addr)
		}
		if len(cfg.Auth.SecretKey) < config.MinSecretBytes {
			t.Fatal("the compose secret is too short")
		}
	})
}

// cleanEnvNames are the variables of this process that would change the configuration.
func cleanEnvNames() []string {
	var names []string
	known := config.KnownEnvNames()
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if known[name] && name != "AUTHSVC_TESTING" {
			names = append(names, name)
		}
	}
	return names
}
