package cmd_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// A replica without the key-encryption key, after another process activated
// an EdDSA key: it cannot sign with that key, so /readyz answers 503 with the
// reason within the refresh interval, authsvc_signing_key_usable is 0, and
// every refresh logs the error; `keys activate` warned about it.
func TestReplicaWithoutKEKIsNotReady(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			dbURL := b.URL(t)
			admin := newKeysCLI(t, dbURL)
			// The same database, without auth.key_encryption_key.
			replica := newCLI(t, dbURL, "AUTHSVC_AUTH_KEYS_REFRESH_INTERVAL="+refreshForTest,
				"AUTHSVC_SERVER_METRICS_ADDR=127.0.0.1:0")
			s := replica.startServer()
			if code, body := s.get(t, "/readyz"); code != http.StatusOK {
				t.Fatalf("readyz before any key: %d %s", code, body)
			}
			gen := admin.run("keys", "generate", "--alg", "EdDSA")
			expectExit(t, gen, 0)
			kid := strings.TrimSpace(gen.stdout)
			act := admin.run("keys", "activate", kid)
			expectExit(t, act, 0)
			if !strings.Contains(act.stderr, "every replica needs auth.key_encryption_key") {
				t.Fatalf("keys activate did not warn: %q", act.stderr)
			}
			refresh, _ := time.ParseDuration(refreshForTest)
			var body string
			took := within(t, 10*time.Second, "readyz 503", func() bool {
				var code int
				code, body = s.get(t, "/readyz")
				return code == http.StatusServiceUnavailable
			})
			// One refresh interval, plus the ticker's phase and a margin for a busy machine.
			if took > 2*refresh+2*time.Second {
				t.Errorf("readyz turned 503 after %s, refresh interval %s", took, refresh)
			}
			if !strings.Contains(body, `"code":"not_ready"`) || !strings.Contains(body, "cannot sign with the active signing key") ||
				!strings.Contains(body, "auth.key_encryption_key") {
				t.Fatalf("readyz body %s", body)
			}
			m := regexp.MustCompile(`metrics listening.*addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(s.logs.String())
			if m == nil {
				t.Fatalf("no metrics listener:\n%s", s.logs.String())
			}
			_, metrics := (&server{base: "http://" + m[1]}).get(t, "/metrics")
			if !strings.Contains(metrics, "authsvc_signing_key_usable 0") {
				t.Fatalf("metrics lack authsvc_signing_key_usable 0:\n%s", metrics)
			}
			// An error line at each refresh, not just once.
			waitFor(t, func() bool {
				return strings.Count(s.logs.String(), "cannot sign with the active signing key") >= 3
			})
		})
	}
}
