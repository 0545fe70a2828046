package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authsvc/authsvc/pkg/store/storetest"
)

func TestAccessLog(t *testing.T) {
	t.Run("one line per request with the fields", func(t *testing.T) {
		o := newOps(t, nil, opsConfig{trustedProxies: []string{"10.0.0.0/8"}})
		o.do(req{path: "/healthz", peer: "10.0.0.1:999", header: http.Header{
			"X-Forwarded-For": {"198.51.100.4"}, "X-Request-Id": {"req-abc-123"}}})
		lines := o.log.lines(t, "request")
		if len(lines) != 1 {
			t.Fatalf("%d lines: %s", len(lines), o.log)
		}
		l := lines[0]
		for k, want := range map[string]any{"level": "info", "method": "GET", "route": "/healthz", "status": 200.0,
			"client_ip": "198.51.100.4", "request_id": "req-abc-123"} {
			if l[k] != want {
				t.Errorf("%s = %v, want %v", k, l[k], want)
			}
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("no duration: %v", l)
		}
		if b, _ := l["bytes"].(float64); b <= 0 {
			t.Errorf("bytes = %v", l["bytes"])
		}
		if _, ok := l["user_id"]; ok {
			t.Error("user_id on an anonymous request")
		}
	})

	t.Run("an unmatched path is not logged raw", func(t *testing.T) {
		o := newOps(t, nil, opsConfig{})
		o.do(req{path: "/auth/users/carol/unknown?password=hunter2hunter2"})
		l := o.log.lines(t, "request")
		if len(l) != 1 || l[0]["route"] != "unmatched" || l[0]["status"] != 404.0 {
			t.Fatalf("lines %v", l)
		}
		if s := o.log.String(); strings.Contains(s, "carol") || strings.Contains(s, "hunter2") {
			t.Fatalf("raw path or query in the log: %s", s)
		}
	})

	storetest.Run(t, func(t *testing.T, db *storetest.DB) {
		t.Run("an auth flow leaves no password, token or query in the log", func(t *testing.T) {
			testAccessLogFlow(t, db)
		})
	})
}

func testAccessLogFlow(t *testing.T, db *storetest.DB) {
	o := newOps(t, db, opsConfig{})
	const pw, name = "Zq8-very-secret-pw", "logwatcher"
	if rec := o.do(req{method: "POST", path: "/auth/register",
		body: `{"username":"` + name + `","email":"logwatcher@example.com","password":"` + pw + `"}`}); rec.Code != 201 {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	login := o.do(req{method: "POST", path: "/auth/login", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"username": {name}, "password": {pw}}.Encode()})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(login.Body.Bytes(), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login: %d %s", login.Code, login.Body)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
	if rec := o.do(req{path: "/auth/me", header: bearer}); rec.Code != 200 {
		t.Fatalf("me: %d", rec.Code)
	}
	del := o.do(req{method: "DELETE", path: "/auth/users/" + name + "?password=" + url.QueryEscape(pw), header: bearer})
	if del.Code != 200 {
		t.Fatalf("delete: %d %s", del.Code, del.Body)
	}

	lines := o.log.lines(t, "request")
	if len(lines) != 4 {
		t.Fatalf("%d request lines, want 4: %s", len(lines), o.log)
	}
	me, gone := lines[2], lines[3]
	if me["route"] != "/auth/me" || me["user_id"] == nil {
		t.Errorf("me line %v", me)
	}
	if gone["route"] != "/auth/users/{username}" || gone["method"] != "DELETE" || gone["status"] != 200.0 || gone["user_id"] == nil {
		t.Errorf("delete line %v", gone)
	}
	logs := o.log.String()
	for _, secret := range []string{pw, url.QueryEscape(pw), tok.AccessToken, tok.AccessToken[len(tok.AccessToken)-20:],
		"?password", "Bearer"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains %q", secret[:min(len(secret), 12)])
		}
	}
}
