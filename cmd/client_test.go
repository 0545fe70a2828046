package cmd_test

import (
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

// The client commands register, list, show, rotate and delete OpenID Connect
// clients; bad registrations are usage errors, unknown clients not found.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	c := newMigratedCLI(t, storetest.SQLiteURL(t))
	type client struct {
		ID           string `json:"client_id"`
		Name         string
		Public       bool
		Secret       string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
		Grants       []string
	}
	dash := decodeJSON[client](t, c.run("client", "create", "Team dashboard", "--redirect-uri",
		"https://dash.example.com/oauth2/callback", "--first-party", "-o", "json"))
	if dash.ID == "" || dash.Secret == "" || dash.Public || len(dash.RedirectURIs) != 1 {
		t.Fatalf("created %+v", dash)
	}
	spa := decodeJSON[client](t, c.run("client", "create", "SPA", "--public", "--redirect-uri", "http://localhost:5173/cb", "-o", "json"))
	if spa.Secret != "" || !spa.Public {
		t.Fatalf("public client %+v", spa)
	}
	r := c.run("client", "create", "Evil", "--redirect-uri", "http://evil.example.com/cb")
	expectExit(t, r, 2)
	if !strings.Contains(r.stderr, "loopback") {
		t.Fatalf("stderr %q", r.stderr)
	}
	expectExit(t, c.run("client", "create", "Job", "--public", "--grant", "client_credentials"), 2)

	list := decodeJSON[struct{ Clients []client }](t, c.run("client", "list", "-o", "json"))
	if len(list.Clients) != 2 || list.Clients[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}
	if shown := c.run("client", "show", dash.ID); !strings.Contains(shown.stdout, "https://dash.example.com/oauth2/callback") ||
		strings.Contains(shown.stdout, dash.Secret) {
		t.Fatalf("show: %q", shown.stdout)
	}
	rotated := decodeJSON[client](t, c.run("client", "rotate-secret", dash.ID, "-o", "json"))
	if rotated.Secret == "" || rotated.Secret == dash.Secret {
		t.Fatalf("rotate: %+v", rotated)
	}
	expectExit(t, c.run("client", "rotate-secret", spa.ID), 2)
	expectExit(t, c.run("client", "delete", spa.ID), 0)
	expectExit(t, c.run("client", "show", spa.ID), 3)
	audit := c.run("audit", "list", "-o", "json")
	for _, ev := range []string{"oidc_client.created", "oidc_client.secret_rotated", "oidc_client.deleted"} {
		if !strings.Contains(audit.stdout, ev) {
			t.Errorf("audit trail lacks %s", ev)
		}
	}
}
