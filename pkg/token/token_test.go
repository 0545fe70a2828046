package token_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

func TestNew(t *testing.T) {
	ok := token.Config{Secret: secret, Issuer: "a", Audience: "b", AccessTTL: time.Hour, ResetTTL: time.Hour}
	tests := []struct {
		name   string
		change func(*token.Config)
	}{
		{"secret of 31 bytes", func(c *token.Config) { c.Secret = secret[:31] }},
		{"no secret", func(c *token.Config) { c.Secret = nil }},
		{"empty issuer", func(c *token.Config) { c.Issuer = "" }},
		{"zero access lifetime", func(c *token.Config) { c.AccessTTL = 0 }},
		{"negative reset lifetime", func(c *token.Config) { c.ResetTTL = -time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused", func(t *testing.T) {
			cfg := ok
			tt.change(&cfg)
			if _, err := token.New(cfg); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
	t.Run("a 32-byte secret and nil Now are accepted", func(t *testing.T) {
		iss, err := token.New(ok)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.IssueAccess(testUser(), time.Now(), "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iss.ParseAccess(tok); err != nil {
			t.Fatalf("ParseAccess with the real clock: %v", err)
		}
	})
	t.Run("the secret is copied", func(t *testing.T) {
		cfg := ok
		cfg.Secret = append([]byte(nil), secret...)
		iss, err := token.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.IssueAccess(testUser(), time.Now(), "")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Secret[0] ^= 0xff
		if _, err := iss.ParseAccess(tok); err != nil {
			t.Fatalf("changing the caller's slice changed the key: %v", err)
		}
	})
}

func TestAccessRoundTrip(t *testing.T) {
	iss, _ := newIssuer(t)
	u := testUser()
	authTime := base.Add(-3 * time.Hour).In(time.FixedZone("X", 3600))
	tok, issued, err := iss.IssueAccess(u, authTime, "")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("returned claims describe the user", func(t *testing.T) {
		if issued.UserID != 42 || issued.Username != "alice" || !issued.IsAdmin || issued.TokenVersion != 7 {
			t.Fatalf("claims = %+v", issued)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(issued.JTI) {
			t.Fatalf("jti %q is not 128 bits of hex", issued.JTI)
		}
		if !issued.IssuedAt.Equal(base) || !issued.ExpiresAt.Equal(base.Add(time.Hour)) || !issued.AuthTime.Equal(authTime) {
			t.Fatalf("times = %v %v %v", issued.IssuedAt, issued.ExpiresAt, issued.AuthTime)
		}
		if issued.AuthTime.Location() != time.UTC {
			t.Fatalf("auth_time is in %v, want UTC", issued.AuthTime.Location())
		}
	})

	t.Run("parse returns every claim", func(t *testing.T) {
		got, err := iss.ParseAccess(tok)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, issued) {
			t.Fatalf("parsed %+v, issued %+v", got, issued)
		}
	})

	t.Run("amr and aal round-trip; a password-only token has neither", func(t *testing.T) {
		raw, c, err := iss.IssueAccess(testUser(), time.Time{}, "sid1", domain.AMRPassword, domain.AMROTP)
		if err != nil {
			t.Fatal(err)
		}
		got, err := iss.ParseAccess(raw)
		if err != nil || !reflect.DeepEqual(got, c) || got.AAL != domain.AAL2 || len(got.AMR) != 2 {
			t.Fatalf("parsed %+v (%v), issued %+v", got, err, c)
		}
		if m := payloadOf(t, tok); m["amr"] != nil || m["aal"] != nil {
			t.Fatalf("password-only token carries amr/aal: %v", m)
		}
	})

	t.Run("wire format is the contract's", func(t *testing.T) {
		m := payloadOf(t, tok)
		want := map[string]any{
			"sub": "42", "username": "alice", "is_admin": true, "iat": float64(base.Unix()),
			"nbf": float64(base.Unix()), "exp": float64(base.Add(time.Hour).Unix()), "jti": issued.JTI,
			"iss": "authsvc", "aud": "authsvc-api", "ver": float64(7), "auth_time": float64(authTime.Unix()),
		}
		if len(m) != len(want) {
			t.Fatalf("payload has %d claims, want %d: %v", len(m), len(want), m)
		}
		for k, v := range want {
			if m[k] != v {
				t.Errorf("claim %s = %#v, want %#v", k, m[k], v)
			}
		}
		h, _, _ := segments(t, tok)
		raw, _ := base64.RawURLEncoding.DecodeString(h)
		var hdr map[string]any
		if err := json.Unmarshal(raw, &hdr); err != nil || hdr["alg"] != "HS256" {
			t.Fatalf("header = %s", raw)
		}
	})

	t.Run("a client holding the raw secret verifies it", func(t *testing.T) {
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return base }))
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("every token gets a new jti", func(t *testing.T) {
		_, again, err := iss.IssueAccess(u, authTime, "")
		if err != nil {
			t.Fatal(err)
		}
		if again.JTI == issued.JTI {
			t.Fatal("same jti twice")
		}
	})

	t.Run("zero auth time means now", func(t *testing.T) {
		_, c, err := iss.IssueAccess(u, time.Time{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if !c.AuthTime.Equal(base) {
			t.Fatalf("auth_time = %v, want %v", c.AuthTime, base)
		}
	})

	t.Run("the session id travels as sid, and is absent when empty", func(t *testing.T) {
		tok, c, err := iss.IssueAccess(u, time.Time{}, "0123456789abcdef0123456789abcdef")
		if err != nil || c.SessionID != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("issue: %+v, %v", c, err)
		}
		parsed, err := iss.ParseAccess(tok)
		if err != nil || parsed.SessionID != c.SessionID {
			t.Fatalf("parse: %+v, %v", parsed, err)
		}
		if p := payloadOf(t, tok); p["sid"] != c.SessionID {
			t.Fatalf("payload sid = %v", p["sid"])
		}
		tok, _, err = iss.IssueAccess(u, time.Time{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, has := payloadOf(t, tok)["sid"]; has {
			t.Fatal("an empty sid was written")
		}
	})
}

func TestIssueAccessTTL(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, c, err := iss.IssueAccessTTL(testUser(), base, 10*time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.Equal(base.Add(10 * time.Minute)) {
		t.Fatalf("exp = %v", c.ExpiresAt)
	}
	if got, err := iss.ParseAccess(tok); err != nil || !got.ExpiresAt.Equal(c.ExpiresAt) {
		t.Fatalf("ParseAccess = %+v, %v", got, err)
	}
	for _, ttl := range []time.Duration{0, -time.Minute} {
		_, _, err := iss.IssueAccessTTL(testUser(), base, ttl, "")
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("ttl %v: code %q, want %q", ttl, domain.ErrorCode(err), domain.EINVALID)
		}
	}
	if _, _, err := iss.IssueAccess(&domain.User{Username: "no-id"}, base, ""); err == nil {
		t.Error("issued a token for a user without an id")
	}
}

func TestResetRoundTrip(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, exp, err := iss.IssueReset(42)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(base.Add(30*time.Minute)) || exp.Location() != time.UTC {
		t.Fatalf("expiresAt = %v", exp)
	}
	id, err := iss.ParseReset(tok)
	if err != nil || id != 42 {
		t.Fatalf("ParseReset = %d, %v", id, err)
	}
	m := payloadOf(t, tok)
	for _, k := range []string{"purpose", "sub", "jti", "iat", "nbf", "exp", "iss", "aud"} {
		if _, ok := m[k]; !ok {
			t.Errorf("reset token lacks %s", k)
		}
	}
	if m["purpose"] != "pwreset" || m["sub"] != "42" || m["exp"] != float64(exp.Unix()) {
		t.Errorf("payload = %v", m)
	}
	for _, k := range []string{"username", "is_admin", "ver", "auth_time"} {
		if _, ok := m[k]; ok {
			t.Errorf("reset token carries %s", k)
		}
	}
	if _, _, err := iss.IssueReset(0); err == nil {
		t.Error("issued a reset token for user 0")
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := token.HashToken("abc"); got != want {
		t.Fatalf("HashToken = %s, want %s", got, want)
	}
}

func TestRefusalReasonOfOtherErrors(t *testing.T) {
	for _, err := range []error{nil, errors.New("x"), domain.Errorf(domain.EUNAUTHORIZED, "x")} {
		if got := token.RefusalReason(err); got != "" {
			t.Errorf("RefusalReason(%v) = %q, want \"\"", err, got)
		}
	}
}
