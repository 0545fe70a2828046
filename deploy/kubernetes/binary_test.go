package kubernetes_test

import (
	"bytes"
	"errors"
	"github.com/authsvc/authsvc/internal/testkit"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/config"
	"go.yaml.in/yaml/v3"
)

// testSecret stands in for AUTHSVC_AUTH_SECRET_KEY (40 bytes).
const testSecret = "0123456789abcdefghijklmnopqrstuvwxyzABCD"

// binary is the authsvc binary built for this test, run with a clean
// environment: the Secret's variables (test values) and nothing else of ours.
type binary struct {
	path string
	dir  string
	env  []string
}

func buildBinary(t *testing.T) *binary {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "authsvc")
	out, err := exec.Command("go", "build", "-o", path, "github.com/authsvc/authsvc").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return &binary{path: path, dir: dir, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AUTHSVC_AUTH_SECRET_KEY=" + testSecret,
		"AUTHSVC_DATABASE_URL=sqlite:" + filepath.Join(dir, "a.db"),
		"AUTHSVC_MAIL_PASSWORD=not-used",
	}}
}

// command is the binary with args, extra environment variables overriding
// the defaults.
func (b *binary) command(extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(b.path, args...)
	cmd.Dir = b.dir
	cmd.Env = append(append([]string{}, b.env...), extraEnv...)
	return cmd
}

// run runs the binary and returns its exit code, stdout and stderr.
func (b *binary) run(t *testing.T, extraEnv []string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := b.command(extraEnv, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// argv is what the container runs: the image's ENTRYPOINT ["authsvc"] with
// args, unless command replaces it.
func argv(t *testing.T, c container) []string {
	t.Helper()
	if len(c.Command) == 0 {
		return c.Args
	}
	if filepath.Base(c.Command[0]) != "authsvc" {
		t.Fatalf("container %s runs %q, not authsvc", c.Name, c.Command[0])
	}
	return append(append([]string{}, c.Command[1:]...), c.Args...)
}

func TestManifestsAgainstBinary(t *testing.T) {
	bin := buildBinary(t)
	d := loadDeployment(t)
	initArgs := argv(t, d.Spec.Template.Spec.InitContainers[0])
	cfgFile := filepath.Join(bin.dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(configYAML(t)), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("init container runs migrate up", func(t *testing.T) {
		code, out, errOut := bin.run(t, nil, append(initArgs, "--help")...)
		if code != 0 || !strings.Contains(out, "Apply every pending migration") {
			t.Errorf("authsvc %v --help: exit %d\n%s%s", initArgs, code, out, errOut)
		}
	})
	t.Run("configmap loads with the binary's loader", func(t *testing.T) {
		db := "sqlite:" + filepath.Join(bin.dir, "b.db")
		// migrate up: only it (and serve) may create the database.
		code, out, errOut := bin.run(t, nil, "migrate", "up", "--config", cfgFile, "--database-url", db)
		if code != 0 {
			t.Errorf("migrate up with the ConfigMap: exit %d\n%s%s", code, out, errOut)
		}
	})
	t.Run("example secret key is refused", func(t *testing.T) {
		env := []string{"AUTHSVC_AUTH_SECRET_KEY=" + secretData(t)["AUTHSVC_AUTH_SECRET_KEY"]}
		db := "sqlite:" + filepath.Join(bin.dir, "c.db")
		code, _, errOut := bin.run(t, env, "migrate", "status", "--config", cfgFile, "--database-url", db)
		if code != 2 || !strings.Contains(errOut, "auth.secret_key") {
			t.Errorf("unedited example Secret: exit %d, want 2 naming auth.secret_key\n%s", code, errOut)
		}
	})
	t.Run("probes answer once the init container has migrated", func(t *testing.T) {
		checkProbes(t, bin, cfgFile, d, initArgs)
	})
}

// checkProbes starts `authsvc serve` with the ConfigMap's configuration on an
// empty database: readiness must fail (auto_migrate is off), then pass once
// the init container's command has run, and liveness must pass throughout.
func checkProbes(t *testing.T, bin *binary, cfgFile string, d deployment, initArgs []string) {
	app := d.Spec.Template.Spec.Containers[0]
	addr := serve(t, bin, append(argv(t, app), "--config", cfgFile, "--addr", "127.0.0.1:"+freePort(t)))
	live, ready := app.LivenessProbe, app.ReadinessProbe
	if live == nil || live.HTTPGet == nil || ready == nil || ready.HTTPGet == nil {
		t.Fatal("the app container needs HTTP liveness and readiness probes")
	}
	for _, p := range []*probe{live, ready} {
		if port := containerPort(t, app, p.HTTPGet.Port); port != 8080 {
			t.Errorf("probe %s on port %d, want 8080", p.HTTPGet.Path, port)
		}
	}
	if live.HTTPGet.Path != "/healthz" || ready.HTTPGet.Path != "/readyz" {
		t.Errorf("probes: liveness %s, readiness %s", live.HTTPGet.Path, ready.HTTPGet.Path)
	}
	if got := status(t, addr, ready.HTTPGet.Path); got != http.StatusServiceUnavailable {
		t.Errorf("readiness before migrating = %d, want 503 (serve must not migrate)", got)
	}
	if code, out, errOut := bin.run(t, nil, append(initArgs, "--config", cfgFile)...); code != 0 {
		t.Fatalf("init container command %v: exit %d\n%s%s", initArgs, code, out, errOut)
	}
	for _, p := range []*probe{live, ready} {
		if got := status(t, addr, p.HTTPGet.Path); got != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p.HTTPGet.Path, got)
		}
	}
}

// serve starts the binary with args and returns its address once /healthz
// answers; the server is stopped (SIGTERM, then killed) when the test ends.
func serve(t *testing.T, bin *binary, args []string) string {
	t.Helper()
	addr := args[len(args)-1]
	var stderr testkit.SyncBuffer
	cmd := bin.command(nil, args...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("authsvc %v exited: %s", args, stderr.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("authsvc did not answer on %s: %s", addr, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func status(t *testing.T, addr, path string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func TestConfigMapContents(t *testing.T) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(configYAML(t)), &doc); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	flat := map[string]any{}
	testkit.Flatten("", doc, flat)
	t.Run("every key is a configuration key", func(t *testing.T) {
		defaults := config.Defaults()
		for key := range flat {
			if _, ok := defaults[key]; !ok {
				t.Errorf("unknown key %s", key)
			}
		}
	})
	t.Run("production settings for pods behind an init container", func(t *testing.T) {
		want := map[string]any{"environment": "production", "database.auto_migrate": false, "log.format": "json"}
		for key, value := range want {
			if flat[key] != value {
				t.Errorf("%s = %v, want %v", key, flat[key], value)
			}
		}
		for _, secret := range []string{"auth.secret_key", "database.url", "mail.password"} {
			if v, ok := flat[secret]; ok && v != "" {
				t.Errorf("%s belongs in the Secret, not the ConfigMap", secret)
			}
		}
	})
	t.Run("listens on the container port", func(t *testing.T) {
		app := loadDeployment(t).Spec.Template.Spec.Containers[0]
		_, port, err := net.SplitHostPort(flat["server.addr"].(string))
		if err != nil || port != strconv.Itoa(containerPort(t, app, "http")) {
			t.Errorf("server.addr %v does not match the http container port", flat["server.addr"])
		}
	})
}
