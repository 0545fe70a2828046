package token_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"github.com/authsvc/authsvc/pkg/seal"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/token"
)

var kek = []byte("kek-kek-kek-kek-kek-kek-kek-kek-kek!")

// storedKey generates a key as `authsvc keys generate` stores it.
func storedKey(t testing.TB, alg string, state domain.KeyState) domain.SigningKey {
	t.Helper()
	kp, err := token.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(kek)
	if err != nil {
		t.Fatal(err)
	}
	return domain.SigningKey{KID: kp.KID, Alg: alg, State: state, PublicKey: kp.PublicDER,
		PrivateKey: s.Seal(kp.KID, kp.PrivateDER), CreatedAt: base}
}

func sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	s, err := seal.New(kek)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// header decodes a token's JOSE header.
func header(t testing.TB, tok string) map[string]any {
	t.Helper()
	h, _, _ := segments(t, tok)
	var m map[string]any
	raw, _ := jwt.NewParser().DecodeSegment(h)
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNoAudience(t *testing.T) {
	clk := &clock{t: base}
	iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc", AccessTTL: time.Hour, ResetTTL: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.IssueAccess(testUser(), base, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, has := payloadOf(t, tok)["aud"]; has {
		t.Fatalf("aud written with no audience configured: %v", payloadOf(t, tok))
	}
	t.Run("a verifier that names no audience accepts it", func(t *testing.T) {
		// golang-jwt with the secret and no audience option: what a consumer of the original runs.
		_, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clk.Now))
		if err != nil {
			t.Fatalf("plain HS256 verify: %v", err)
		}
	})
	t.Run("authsvc accepts it and a token carrying some aud", func(t *testing.T) {
		if _, err := iss.ParseAccess(tok); err != nil {
			t.Fatal(err)
		}
		if _, err := iss.ParseAccess(hs256(t, with(accessMap(base), "aud", "anything"))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("with an audience set, none or another is refused", func(t *testing.T) {
		withAud, _ := newIssuer(t)
		assertRefused(t, mustParse(withAud, tok), token.ReasonWrongClaims)
		assertRefused(t, mustParse(withAud, hs256(t, with(accessMap(base), "aud", "other"))), token.ReasonWrongAudience)
	})
}

func mustParse(iss *token.Issuer, tok string) error {
	_, err := iss.ParseAccess(tok)
	return err
}

func TestSecretKID(t *testing.T) {
	iss, _ := newIssuer(t)
	tok, _, err := iss.IssueAccess(testUser(), base, "")
	if err != nil {
		t.Fatal(err)
	}
	h := header(t, tok)
	if h["alg"] != "HS256" || h["kid"] != iss.SecretKID() || !strings.HasPrefix(iss.SecretKID(), "hs256-") {
		t.Fatalf("header %v, secret kid %q", h, iss.SecretKID())
	}
	again, _ := newIssuer(t)
	if again.SecretKID() != iss.SecretKID() {
		t.Fatal("the secret's kid is not stable")
	}
	if strings.Contains(iss.SecretKID(), string(secret)) || string(iss.JWKS()) != `{"keys":[]}` {
		t.Fatalf("kid %q or JWKS %s reveals the secret", iss.SecretKID(), iss.JWKS())
	}
	t.Run("a token without kid (issued before kids) still verifies with the secret", func(t *testing.T) {
		if _, err := iss.ParseAccess(hs256(t, accessMap(base))); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAsymmetricKeys(t *testing.T) {
	for _, alg := range token.AsymmetricAlgs() {
		t.Run(alg, func(t *testing.T) {
			iss, clk := newIssuer(t)
			active := storedKey(t, alg, domain.KeyActive)
			if err := iss.SetKeys([]domain.SigningKey{active}, sealer(t)); err != nil {
				t.Fatal(err)
			}
			tok, _, err := iss.IssueAccess(testUser(), base, "")
			if err != nil {
				t.Fatal(err)
			}
			if h := header(t, tok); h["alg"] != alg || h["kid"] != active.KID {
				t.Fatalf("header %v, want alg %s kid %s", h, alg, active.KID)
			}
			if _, err := iss.ParseAccess(tok); err != nil {
				t.Fatalf("own token refused: %v", err)
			}

			t.Run("verifies through JWKS with keyfunc", func(t *testing.T) {
				k, err := keyfunc.NewJWKSetJSON(json.RawMessage(iss.JWKS()))
				if err != nil {
					t.Fatal(err)
				}
				parsed, err := jwt.Parse(tok, k.Keyfunc, jwt.WithTimeFunc(clk.Now), jwt.WithIssuer("authsvc"))
				if err != nil || !parsed.Valid {
					t.Fatalf("keyfunc verify: %v", err)
				}
				var doc struct {
					Keys []map[string]any `json:"keys"`
				}
				if err := json.Unmarshal(iss.JWKS(), &doc); err != nil || len(doc.Keys) != 1 {
					t.Fatalf("JWKS %s: %v", iss.JWKS(), err)
				}
				if d := doc.Keys[0]; d["kid"] != active.KID || d["alg"] != alg || d["use"] != "sig" || d["d"] != nil {
					t.Fatalf("JWK %v", d)
				}
			})
			t.Run("tampered is refused", func(t *testing.T) {
				h, _, s := segments(t, tok)
				forged := with(accessMap(base), "is_admin", true)
				assertRefused(t, mustParse(iss, h+"."+b64(forged)+"."+s), token.ReasonBadSignature)
			})
			t.Run("HS256 signed with the public key is refused", func(t *testing.T) {
				pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: active.PublicKey})
				for _, key := range [][]byte{active.PublicKey, pemKey, iss.JWKS()} {
					forged := jwt.NewWithClaims(jwt.SigningMethodHS256, accessMap(base))
					forged.Header["kid"] = active.KID
					s, _ := forged.SignedString(key)
					assertRefused(t, mustParse(iss, s), token.ReasonWrongAlg)
					forged.Header["kid"] = iss.SecretKID()
					s, _ = forged.SignedString(key)
					assertRefused(t, mustParse(iss, s), token.ReasonBadSignature)
				}
			})
			t.Run("another alg under a known kid is refused", func(t *testing.T) {
				other := token.AlgES256
				if alg == token.AlgES256 {
					other = token.AlgEdDSA
				}
				kp, _ := token.GenerateKey(other)
				priv, _ := x509.ParsePKCS8PrivateKey(kp.PrivateDER)
				m := map[string]jwt.SigningMethod{token.AlgEdDSA: jwt.SigningMethodEdDSA, token.AlgES256: jwt.SigningMethodES256}[other]
				forged := jwt.NewWithClaims(m, accessMap(base))
				forged.Header["kid"] = active.KID
				s, _ := forged.SignedString(priv)
				assertRefused(t, mustParse(iss, s), token.ReasonWrongAlg)
			})
			t.Run("an unknown kid is refused", func(t *testing.T) {
				forged := jwt.NewWithClaims(jwt.SigningMethodHS256, accessMap(base))
				forged.Header["kid"] = "no-such-key"
				s, _ := forged.SignedString(secret)
				assertRefused(t, mustParse(iss, s), token.ReasonUnknownKey)
			})
			t.Run("reset tokens stay HS256 under the secret", func(t *testing.T) {
				rt, _, err := iss.IssueReset(42)
				if err != nil {
					t.Fatal(err)
				}
				if h := header(t, rt); h["alg"] != "HS256" || h["kid"] != iss.SecretKID() {
					t.Fatalf("reset header %v", h)
				}
				if _, err := iss.ParseReset(rt); err != nil {
					t.Fatal(err)
				}
				if _, err := iss.ParseReset(tok); err == nil {
					t.Fatal("an access token signed by the key was taken as a reset token")
				}
			})
		})
	}
}

func TestRotation(t *testing.T) {
	iss, clk := newIssuer(t)
	hsTok, _, _ := iss.IssueAccess(testUser(), base, "")
	old := storedKey(t, token.AlgEdDSA, domain.KeyActive)
	next := storedKey(t, token.AlgES256, domain.KeyNext)
	if err := iss.SetKeys([]domain.SigningKey{old, next}, sealer(t)); err != nil {
		t.Fatal(err)
	}
	if iss.SigningKID() != old.KID {
		t.Fatalf("signing with %s, want the active %s (a next key does not sign)", iss.SigningKID(), old.KID)
	}
	oldTok, _, _ := iss.IssueAccess(testUser(), base, "")

	// Activate next: old retires, verifying for one more access TTL.
	until := base.Add(time.Hour)
	at := base
	old.State, old.RetiredAt, old.VerifyUntil = domain.KeyRetired, &at, &until
	next.State = domain.KeyActive
	if err := iss.SetKeys([]domain.SigningKey{old, next}, sealer(t)); err != nil {
		t.Fatal(err)
	}
	newTok, _, _ := iss.IssueAccess(testUser(), base, "")
	if h := header(t, newTok); h["kid"] != next.KID {
		t.Fatalf("after activation signing with %v", h["kid"])
	}
	for name, tok := range map[string]string{"HS256": hsTok, "old key": oldTok, "new key": newTok} {
		if _, err := iss.ParseAccess(tok); err != nil {
			t.Fatalf("%s token refused after rotation: %v", name, err)
		}
	}
	if !bytes.Contains(iss.JWKS(), []byte(old.KID)) || !bytes.Contains(iss.JWKS(), []byte(next.KID)) {
		t.Fatalf("JWKS lacks a key that still verifies: %s", iss.JWKS())
	}

	t.Run("once its tokens cannot be valid, the retired key no longer verifies or is published", func(t *testing.T) {
		clk.t = until
		assertRefused(t, mustParse(iss, oldTok), token.ReasonKeyRetired)
		if err := iss.SetKeys([]domain.SigningKey{old, next}, sealer(t)); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(iss.JWKS(), []byte(old.KID)) {
			t.Fatalf("expired key still published: %s", iss.JWKS())
		}
	})
	t.Run("an active key needs the key-encryption key", func(t *testing.T) {
		fresh, _ := newIssuer(t)
		if err := fresh.SetKeys([]domain.SigningKey{next}, nil); err == nil {
			t.Fatal("SetKeys without a sealer succeeded")
		}
		wrong, _ := seal.New(bytes.Repeat([]byte("x"), 32))
		if err := fresh.SetKeys([]domain.SigningKey{next}, wrong); err == nil {
			t.Fatal("SetKeys with the wrong key-encryption key succeeded")
		}
		if fresh.SigningKID() != fresh.SecretKID() {
			t.Fatal("a failed SetKeys changed the keys")
		}
	})
}

func TestSealer(t *testing.T) {
	if _, err := seal.New(kek[:31]); err == nil {
		t.Fatal("a 31-byte key-encryption key was accepted")
	}
	s := sealer(t)
	plain := []byte("private key bytes")
	sealed := s.Seal("kid-1", plain)
	if bytes.Contains(sealed, plain) {
		t.Fatal("sealed bytes contain the plain text")
	}
	if got, err := s.Open("kid-1", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open("kid-2", sealed); err == nil {
		t.Fatal("a sealed key opened under another kid")
	}
	other, _ := seal.New(bytes.Repeat([]byte("y"), 32))
	if _, err := other.Open("kid-1", sealed); err == nil {
		t.Fatal("a sealed key opened with another key-encryption key")
	}
	if _, err := token.GenerateKey("HS512"); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("GenerateKey(HS512) = %v, want EINVALID", err)
	}
}

// Requests verify and sign while the key refresh swaps the keys: no token
// of a key that stays published is ever refused (run with -race).
func TestSetKeysWhileServing(t *testing.T) {
	iss, _ := newIssuer(t)
	a := storedKey(t, token.AlgEdDSA, domain.KeyActive)
	b := storedKey(t, token.AlgES256, domain.KeyNext)
	if err := iss.SetKeys([]domain.SigningKey{a, b}, sealer(t)); err != nil {
		t.Fatal(err)
	}
	tokA, _, _ := iss.IssueAccess(testUser(), base, "")
	until := base.Add(time.Hour)
	aRetired, bActive := a, b
	aRetired.State, aRetired.VerifyUntil = domain.KeyRetired, &until
	bActive.State = domain.KeyActive
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			keys := []domain.SigningKey{a, b}
			if i%2 == 1 {
				keys = []domain.SigningKey{aRetired, bActive}
			}
			if err := iss.SetKeys(keys, sealer(t)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		tok, _, err := iss.IssueAccess(testUser(), base, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range []string{tok, tokA} {
			if _, err := iss.ParseAccess(tk); err != nil {
				t.Fatalf("refused during a key swap: %v", err)
			}
		}
	}
}

// A kid is never taken for a command-line flag: it starts with its algorithm
// (a bare base64url thumbprint starts with "-" once in 64 keys).
func TestGeneratedKIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		kp, err := token.GenerateKey(token.AlgEdDSA)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(kp.KID, "eddsa-") || seen[kp.KID] {
			t.Fatalf("kid %q (seen before: %t)", kp.KID, seen[kp.KID])
		}
		seen[kp.KID] = true
	}
}

// With auth.refuse_secret_tokens, once an asymmetric key has signed for an
// access-token lifetime, an HS256 token minted with the secret (by a consumer
// that still holds it) no longer verifies; tokens of the switch's own time
// live out their lifetime, and the key's tokens are unaffected.
func TestRefuseSecretAfterRotation(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			clk := &clock{t: base}
			iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc", AccessTTL: time.Hour,
				ResetTTL: time.Hour, Now: clk.Now, RefuseSecretAfterRotation: refuse})
			if err != nil {
				t.Fatal(err)
			}
			before, _, _ := iss.IssueAccess(testUser(), base, "sid-1")
			key := storedKey(t, token.AlgEdDSA, domain.KeyActive)
			at := base
			key.ActivatedAt = &at
			if err := iss.SetKeys([]domain.SigningKey{key}, sealer(t)); err != nil {
				t.Fatal(err)
			}
			clk.t = base.Add(30 * time.Minute)
			if _, err := iss.ParseAccess(before); err != nil {
				t.Fatalf("an HS256 token from before the switch, within its lifetime: %v", err)
			}
			clk.t = base.Add(time.Hour + token.Leeway + time.Second)
			minted := hs256(t, with(accessMap(clk.t), "sid", "sid-1"))
			if refuse {
				assertRefused(t, mustParse(iss, minted), token.ReasonKeyRetired)
			} else if err := mustParse(iss, minted); err != nil {
				t.Fatalf("without the setting the secret still verifies: %v", err)
			}
			own, _, _ := iss.IssueAccess(testUser(), clk.t, "sid-1")
			if err := mustParse(iss, own); err != nil {
				t.Fatalf("the active key's token: %v", err)
			}
			reset, _, err := iss.IssueReset(42)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := iss.ParseReset(reset); err != nil {
				t.Fatalf("reset tokens keep the secret: %v", err)
			}
		})
	}
}

// The cut-off of auth.refuse_secret_tokens is the first activation: a later
// rotation does not open a new window in which the secret verifies, and
// every replica (each computing from the same stored rows) agrees on it.
func TestRefuseSecretCutoffSurvivesRotation(t *testing.T) {
	clk := &clock{t: base}
	iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc", AccessTTL: time.Hour,
		ResetTTL: time.Hour, Now: clk.Now, RefuseSecretAfterRotation: true})
	if err != nil {
		t.Fatal(err)
	}
	first := storedKey(t, token.AlgEdDSA, domain.KeyActive)
	firstAt := base
	first.ActivatedAt = &firstAt
	if err := iss.SetKeys([]domain.SigningKey{first}, sealer(t)); err != nil {
		t.Fatal(err)
	}

	// A day later the next key is activated; the first one retires.
	clk.t = base.Add(24 * time.Hour)
	second := storedKey(t, token.AlgES256, domain.KeyActive)
	secondAt, until := clk.t, clk.t.Add(time.Hour)
	second.ActivatedAt = &secondAt
	first.State, first.RetiredAt, first.VerifyUntil = domain.KeyRetired, &secondAt, &until
	if err := iss.SetKeys([]domain.SigningKey{first, second}, sealer(t)); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(time.Minute)
	minted := hs256(t, with(accessMap(clk.t), "sid", "sid-1", "auth_time", clk.t.Unix()))
	assertRefused(t, mustParse(iss, minted), token.ReasonKeyRetired)

	// Once the first key's verification window has ended too (it no longer
	// verifies, so SetKeys skips it), its activation still fixes the cut-off.
	clk.t = until.Add(time.Second)
	if err := iss.SetKeys([]domain.SigningKey{first, second}, sealer(t)); err != nil {
		t.Fatal(err)
	}
	assertRefused(t, mustParse(iss, hs256(t, with(accessMap(clk.t), "sid", "sid-1"))), token.ReasonKeyRetired)
}

// With auth.refuse_secret_tokens every access token must name its session:
// a token without sid (which no current code path issues) is refused, even
// when signed by the active key; without the setting it is accepted.
func TestRefuseSecretRequiresSID(t *testing.T) {
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			iss, err := token.New(token.Config{Secret: secret, Issuer: "authsvc", AccessTTL: time.Hour,
				ResetTTL: time.Hour, Now: (&clock{t: base}).Now, RefuseSecretAfterRotation: refuse})
			if err != nil {
				t.Fatal(err)
			}
			key := storedKey(t, token.AlgEdDSA, domain.KeyActive)
			at := base
			key.ActivatedAt = &at
			if err := iss.SetKeys([]domain.SigningKey{key}, sealer(t)); err != nil {
				t.Fatal(err)
			}
			withSID, _, _ := iss.IssueAccess(testUser(), base, "sid-1")
			if err := mustParse(iss, withSID); err != nil {
				t.Fatalf("token with sid: %v", err)
			}
			noSID, _, _ := iss.IssueAccess(testUser(), base, "")
			if refuse {
				assertRefused(t, mustParse(iss, noSID), token.ReasonWrongClaims)
			} else if err := mustParse(iss, noSID); err != nil {
				t.Fatalf("without the setting a token without sid verifies: %v", err)
			}
		})
	}
}
