package signingkeys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"github.com/authsvc/authsvc/pkg/seal"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/internal/testkit"
	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/authsvc/authsvc/pkg/signingkeys"
	"github.com/authsvc/authsvc/pkg/store/storetest"
	"github.com/authsvc/authsvc/pkg/token"
)

var (
	kek    = []byte("0123456789abcdef0123456789abcdef-kek")
	secret = []byte("0123456789abcdef0123456789abcdef-secret")
)

type fixture struct {
	db    *storetest.DB
	url   string
	clock *testkit.Clock
	iss   *token.Issuer
	svc   *signingkeys.Service
}

func newFixture(t *testing.T, b storetest.Backend) *fixture {
	t.Helper()
	url := b.URL(t)
	f := &fixture{db: storetest.Open(t, url), url: url, clock: testkit.NewClock()}
	var err error
	f.iss, err = token.New(token.Config{Secret: secret, Issuer: "authsvc", AccessTTL: time.Hour, ResetTTL: time.Hour, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = signingkeys.New(f.db, f.iss, signingkeys.Options{AccessTTL: time.Hour, RefreshInterval: time.Second,
		KeyEncryptionKey: kek, Clock: f.clock.Now, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if domain.ErrorCode(err) != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestRotationRules(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			first, err := f.svc.Generate(ctx, token.AlgEdDSA)
			if err != nil {
				t.Fatal(err)
			}
			if first.State != domain.KeyNext {
				t.Fatalf("generated key is %s, want next", first.State)
			}
			t.Run("a next key is published but does not sign", func(t *testing.T) {
				if err := f.svc.Load(ctx); err != nil {
					t.Fatal(err)
				}
				if f.iss.SigningKID() != f.iss.SecretKID() || !bytes.Contains(f.iss.JWKS(), []byte(first.KID)) {
					t.Fatalf("signing %s, JWKS %s", f.iss.SigningKID(), f.iss.JWKS())
				}
			})
			t.Run("unknown kid is not found, a second activation conflicts", func(t *testing.T) {
				_, err := f.svc.Activate(ctx, "nope")
				wantCode(t, err, domain.ENOTFOUND)
				f.clock.Advance(2 * time.Second) // past the propagation time: no wait
				if _, err := f.svc.Activate(ctx, first.KID); err != nil {
					t.Fatal(err)
				}
				_, err = f.svc.Activate(ctx, first.KID)
				wantCode(t, err, domain.ECONFLICT)
			})
			f.clock.Advance(time.Minute)
			second, err := f.svc.Generate(ctx, token.AlgES256)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(2 * time.Second)
			activatedAt := f.clock.Now()
			if _, err := f.svc.Activate(ctx, second.KID); err != nil {
				t.Fatal(err)
			}
			old, err := f.db.SigningKey(ctx, first.KID)
			if err != nil {
				t.Fatal(err)
			}
			t.Run("activation retires the previous key for one TTL plus the propagation time", func(t *testing.T) {
				want := activatedAt.Add(time.Hour + 2*time.Second)
				if old.State != domain.KeyRetired || old.VerifyUntil == nil || !old.VerifyUntil.Equal(want.UTC().Truncate(time.Microsecond)) {
					t.Fatalf("old key %s until %v, want retired until %v", old.State, old.VerifyUntil, want)
				}
				if err := f.svc.Load(ctx); err != nil {
					t.Fatal(err)
				}
				if f.iss.SigningKID() != second.KID || !bytes.Contains(f.iss.JWKS(), []byte(first.KID)) {
					t.Fatalf("signing %s, JWKS %s", f.iss.SigningKID(), f.iss.JWKS())
				}
			})
			t.Run("retiring while its tokens may be valid is refused without --force", func(t *testing.T) {
				_, err := f.svc.Retire(ctx, first.KID, false)
				wantCode(t, err, domain.ECONFLICT)
				_, err = f.svc.Retire(ctx, second.KID, false)
				wantCode(t, err, domain.ECONFLICT)
				k, err := f.svc.Retire(ctx, first.KID, true)
				if err != nil {
					t.Fatal(err)
				}
				if k.Verifies(f.clock.Now()) {
					t.Fatalf("forced retire left it verifying until %v", k.VerifyUntil)
				}
				if err := f.svc.Load(ctx); err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(f.iss.JWKS(), []byte(first.KID)) {
					t.Fatalf("retired key still published: %s", f.iss.JWKS())
				}
				if _, err := f.svc.Retire(ctx, first.KID, false); err != nil {
					t.Fatalf("retiring an expired key again: %v", err)
				}
			})
			t.Run("a next key retires at once", func(t *testing.T) {
				third, err := f.svc.Generate(ctx, token.AlgRS256)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.svc.Retire(ctx, third.KID, false); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("private keys are not readable in the database without the key-encryption key", func(t *testing.T) {
				row := rawPrivateKey(t, f, second.KID)
				if len(row) == 0 {
					t.Fatal("empty private key column")
				}
				if _, err := x509.ParsePKCS8PrivateKey(row); err == nil {
					t.Fatal("the stored private key parses as a plain PKCS #8 key")
				}
				if bytes.Contains(row, []byte("PRIVATE KEY")) {
					t.Fatal("PEM in the row")
				}
				s, _ := seal.New(kek)
				plain, err := s.Open(second.KID, row)
				if err != nil {
					t.Fatalf("the right key-encryption key does not open it: %v", err)
				}
				if _, err := x509.ParsePKCS8PrivateKey(plain); err != nil {
					t.Fatal(err)
				}
				wrong, _ := seal.New([]byte(strings.Repeat("w", 32)))
				if _, err := wrong.Open(second.KID, row); err == nil {
					t.Fatal("another key-encryption key opens it")
				}
			})
			t.Run("keys without a key-encryption key are refused at load", func(t *testing.T) {
				noKEK, err := signingkeys.New(f.db, f.iss, signingkeys.Options{AccessTTL: time.Hour, RefreshInterval: time.Second, Clock: f.clock.Now})
				if err != nil {
					t.Fatal(err)
				}
				wantCode(t, noKEK.Load(ctx), domain.EINVALID)
				_, err = noKEK.Generate(ctx, token.AlgEdDSA)
				wantCode(t, err, domain.EINVALID)
			})
		})
	}
}

// rawPrivateKey reads the private key column with a connection of its own,
// as someone with read access to the database would.
func rawPrivateKey(t *testing.T, f *fixture, kid string) []byte {
	t.Helper()
	conn := storetest.SQLFor(t, f.url)
	var row []byte
	if err := conn.QueryRow(conn.Rebind("SELECT private_key_sealed FROM signing_keys WHERE kid = ?"), kid).Scan(&row); err != nil {
		t.Fatal(err)
	}
	return row
}

func TestActivateWaitsForPropagation(t *testing.T) {
	f := newFixture(t, storetest.Backends()[0])
	ctx := context.Background()
	live, err := signingkeys.New(f.db, f.iss, signingkeys.Options{AccessTTL: time.Hour, RefreshInterval: 100 * time.Millisecond, KeyEncryptionKey: kek})
	if err != nil {
		t.Fatal(err)
	}
	k, err := live.Generate(ctx, token.AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	got, err := live.Activate(ctx, k.KID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ActivatedAt == nil || got.ActivatedAt.Before(live.ReadyAt(k)) {
		t.Fatalf("activated at %v, before every replica could see it (%v)", got.ActivatedAt, live.ReadyAt(k))
	}
}

// Signing-key changes are security events: each is in the audit trail, once,
// written with its change.
func TestKeyChangesAreAudited(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b)
			ctx := context.Background()
			k, err := f.svc.Generate(ctx, token.AlgEdDSA)
			if err != nil {
				t.Fatal(err)
			}
			f.clock.Advance(2 * time.Second)
			if _, err := f.svc.Activate(ctx, k.KID); err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.Activate(ctx, k.KID); domain.ErrorCode(err) != domain.ECONFLICT { // no change, no event
				t.Fatalf("second activation: %v", err)
			}
			if _, err := f.svc.Retire(ctx, k.KID, true); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{domain.AuditKeyGenerated, domain.AuditKeyActivated, domain.AuditKeyRetired} {
				events, err := f.db.AuditEvents(ctx, domain.AuditFilter{Event: name, Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(events) != 1 || events[0].Details["kid"] != k.KID || events[0].Details["alg"] != k.Alg {
					t.Fatalf("%s: %+v", name, events)
				}
			}
		})
	}
}
