package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/authsvc/authsvc/pkg/seal"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Errors of the key lookup (the jwt.Keyfunc); classify turns them into
// refusal reasons.
var (
	errUnknownKID  = errors.New("unknown kid")
	errAlgMismatch = errors.New("alg does not match the key's algorithm")
	errKeyRetired  = errors.New("signing key retired")
)

// verifier is one key that may verify tokens.
type verifier struct {
	alg   string
	key   any        // []byte for HS256, else the public key
	until *time.Time // nil: no end (next, active, the secret)
}

// signer is the key new access tokens are signed with.
type signer struct {
	kid    string
	method jwt.SigningMethod
	key    any // []byte for HS256, else the private key
}

// keySet is one immutable snapshot of the keys, swapped atomically.
type keySet struct {
	fingerprint string
	signer      signer
	verifiers   map[string]verifier
	jwks        []byte
	// byAlg are the asymmetric keys this replica can sign with, by
	// algorithm: the active key, else the newest next key of that
	// algorithm (published in the JWKS already). OpenID Connect signs
	// with them.
	byAlg map[string]signer
	// public are the keys published in the JWKS.
	public []PublicKey
}

// PublicKey is a published verification key.
type PublicKey struct {
	KID string
	Alg string
	Key crypto.PublicKey
}

// methods maps an algorithm to its golang-jwt signing method.
var methods = map[string]jwt.SigningMethod{
	AlgHS256: jwt.SigningMethodHS256,
	AlgEdDSA: jwt.SigningMethodEdDSA,
	AlgES256: jwt.SigningMethodES256,
	AlgRS256: jwt.SigningMethodRS256,
}

// secretOnly is the key set with no database keys: HS256 signs and verifies.
func (i *Issuer) secretOnly() *keySet {
	return &keySet{
		signer:    signer{kid: i.hsKID, method: jwt.SigningMethodHS256, key: i.secret},
		verifiers: map[string]verifier{i.hsKID: {alg: AlgHS256, key: i.secret}},
		jwks:      marshalJWKS(nil),
		byAlg:     map[string]signer{},
	}
}

// SetKeys replaces the signing keys with keys (as stored): the active key
// signs new access tokens (HS256 with the secret when none is active); every
// key that still verifies, and the secret, verify. sealer opens the active
// key's private key and may be nil while no asymmetric key is active. On
// error the previous keys stay in use. Calling it again with unchanged keys
// costs a comparison.
func (i *Issuer) SetKeys(keys []domain.SigningKey, sealer *seal.Sealer) error {
	fp := fingerprint(keys, i.now())
	if cur := i.keys.Load(); cur != nil && cur.fingerprint == fp {
		return nil
	}
	ks := i.secretOnly()
	ks.fingerprint = fp
	if cut := secretCutoff(keys); i.refuseSecret && cut != nil {
		// HS256 tokens signed before the first switch live out their
		// lifetime; none minted with the secret verifies after that.
		until := cut.Add(i.accessTTL + Leeway)
		ks.verifiers[i.hsKID] = verifier{alg: AlgHS256, key: i.secret, until: &until}
	}
	var published []jwk
	next := map[string]signer{}
	for _, k := range keys {
		if k.State == domain.KeyRetired && k.VerifyUntil == nil {
			continue
		}
		pub, err := parsePublic(k.Alg, k.PublicKey)
		if err != nil {
			return fmt.Errorf("token: key %s: %w", k.KID, err)
		}
		ks.verifiers[k.KID] = verifier{alg: k.Alg, key: pub, until: k.VerifyUntil}
		if k.Verifies(i.now()) {
			j, err := publicJWK(k.Alg, k.KID, pub)
			if err != nil {
				return err
			}
			published = append(published, j)
			ks.public = append(ks.public, PublicKey{KID: k.KID, Alg: k.Alg, Key: pub})
		}
		if k.State == domain.KeyNext && sealer != nil {
			if priv, err := openPrivate(sealer, k); err == nil { // keys come oldest first: the newest wins
				next[k.Alg] = signer{kid: k.KID, method: methods[k.Alg], key: priv}
			}
			continue
		}
		if k.State != domain.KeyActive {
			continue
		}
		if sealer == nil {
			return fmt.Errorf("token: key %s is active: auth.key_encryption_key is required to sign with it", k.KID)
		}
		priv, err := openPrivate(sealer, k)
		if err != nil {
			return err
		}
		ks.signer = signer{kid: k.KID, method: methods[k.Alg], key: priv}
		ks.byAlg[k.Alg] = ks.signer
	}
	for alg, sg := range next {
		if _, active := ks.byAlg[alg]; !active {
			ks.byAlg[alg] = sg
		}
	}
	ks.jwks = marshalJWKS(published)
	i.keys.Store(ks)
	return nil
}

// openPrivate unseals and parses k's private key.
func openPrivate(sealer *seal.Sealer, k domain.SigningKey) (any, error) {
	plain, err := sealer.Open(k.KID, k.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: %w", k.KID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("token: key %s: parse private key: %w", k.KID, err)
	}
	return priv, nil
}

// SigningKeyFor returns the key that signs with alg (RS256, ES256, EdDSA)
// for OpenID Connect: the active key when it has that algorithm, else the
// newest next key that has it (published in the JWKS already). ok is false
// when this replica holds none.
func (i *Issuer) SigningKeyFor(alg string) (kid string, key crypto.Signer, ok bool) {
	s, found := i.keys.Load().byAlg[alg]
	if !found {
		return "", nil, false
	}
	k, isSigner := s.key.(crypto.Signer)
	return s.kid, k, isSigner
}

// PublicKeys returns the keys published in the JWKS.
func (i *Issuer) PublicKeys() []PublicKey { return i.keys.Load().public }

// secretCutoff returns when the first asymmetric key was activated (nil if
// none ever was): the moment the secret stopped signing access tokens. It is
// the earliest activated_at of every stored key, retired ones included (keys
// are never deleted), so it never moves at a later rotation and every
// replica reading the same rows computes the same instant.
func secretCutoff(keys []domain.SigningKey) *time.Time {
	var first *time.Time
	for _, k := range keys {
		if k.ActivatedAt != nil && (first == nil || k.ActivatedAt.Before(*first)) {
			first = k.ActivatedAt
		}
	}
	return first
}

// fingerprint identifies the state of a key list, so that an unchanged list
// is not parsed and decrypted again. A retired key's fingerprint includes
// whether it still verifies, so that the JWKS drops it once it has expired.
func fingerprint(keys []domain.SigningKey, now time.Time) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.KID)
		b.WriteByte(':')
		b.WriteString(string(k.State))
		if k.VerifyUntil != nil {
			b.WriteString(k.VerifyUntil.UTC().Format(time.RFC3339Nano))
		}
		if !k.Verifies(now) {
			b.WriteString(":expired")
		}
		b.WriteByte(';')
	}
	return b.String()
}

// parsePublic reads a PKIX DER public key and checks it fits alg.
func parsePublic(alg string, der []byte) (crypto.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	ok := false
	switch k := pub.(type) {
	case ed25519.PublicKey:
		ok = alg == AlgEdDSA
	case *ecdsa.PublicKey:
		ok = alg == AlgES256 && k.Curve.Params().Name == "P-256"
	case *rsa.PublicKey:
		ok = alg == AlgRS256
	}
	if !ok {
		return nil, fmt.Errorf("public key type %T does not fit %s", pub, alg)
	}
	return pub, nil
}

// JWKS returns the JSON Web Key Set: the public key of every key that may
// still verify (next, active, and retired but not yet expired), each with
// kid, alg and use "sig". The HS256 secret is never in it.
func (i *Issuer) JWKS() []byte { return i.keys.Load().jwks }

// SigningKID returns the kid new access tokens are signed with.
func (i *Issuer) SigningKID() string { return i.keys.Load().signer.kid }

// SecretKID returns the kid of HS256 tokens (a hash of the secret).
func (i *Issuer) SecretKID() string { return i.hsKID }

// accessKey is the jwt.Keyfunc of access tokens: the key of the token's kid
// (the secret when it has none, as tokens issued before kids existed), only
// for that key's own algorithm, and only while the key still verifies.
func (i *Issuer) accessKey(t *jwt.Token) (any, error) {
	kid := i.hsKID
	if raw, has := t.Header["kid"]; has {
		s, ok := raw.(string)
		if !ok {
			return nil, errUnknownKID
		}
		kid = s
	}
	v, ok := i.keys.Load().verifiers[kid]
	if !ok {
		return nil, errUnknownKID
	}
	if t.Method.Alg() != v.alg {
		return nil, errAlgMismatch
	}
	if v.until != nil && !i.now().Before(*v.until) {
		return nil, errKeyRetired
	}
	return v.key, nil
}

// resetKey is the jwt.Keyfunc of reset tokens: the secret, HS256 only.
func (i *Issuer) resetKey(t *jwt.Token) (any, error) {
	if raw, has := t.Header["kid"]; has && raw != i.hsKID {
		return nil, errUnknownKID
	}
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errAlgMismatch
	}
	return i.secret, nil
}
