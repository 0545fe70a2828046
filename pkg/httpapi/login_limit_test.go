package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/authsvc/authsvc/pkg/config"
	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// TestFailedLoginLimitIsConfigurable: auth.failed_login_limit and
// auth.failed_login_window reach the login through serve's wiring.
func TestFailedLoginLimitIsConfigurable(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, b.URL(t), envConfig{config: func(c *config.Config) {
				c.Auth.FailedLoginLimit = 3
				c.Auth.FailedLoginWindow = 10 * time.Minute
			}})
			dana := e.register("dana")
			for i := range 3 {
				e.login("dana", "wrong-password-"+string(rune('a'+i))).want(t, http.StatusUnauthorized, "invalid_credentials")
			}
			r := e.login("dana", dana.Password)
			if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
				t.Fatalf("the right password after 3 failures: %d, Retry-After %q; want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"))
			}
			e.Clock.Advance(10*time.Minute + time.Second)
			e.login("dana", dana.Password).want(t, http.StatusOK, "")
		})
	}
}
