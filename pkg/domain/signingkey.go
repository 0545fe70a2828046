package domain

import (
	"context"
	"time"
)

// KeyState is where a signing key is in its rotation.
type KeyState string

// The signing-key states. A key is generated as KeyNext (published in JWKS,
// not signing), becomes KeyActive (signs every new access token; at most one
// at a time) and ends KeyRetired (no longer signs; still verifies until its
// VerifyUntil).
const (
	KeyNext    KeyState = "next"
	KeyActive  KeyState = "active"
	KeyRetired KeyState = "retired"
)

// SigningKey is one asymmetric token-signing key as stored: the public key in
// PKIX DER, the private key (PKCS #8 DER) sealed under the key-encryption
// key. The store never sees the private key in the clear.
type SigningKey struct {
	KID         string     `db:"kid"`
	Alg         string     `db:"alg"` // EdDSA, ES256 or RS256
	State       KeyState   `db:"state"`
	PublicKey   []byte     `db:"public_key"`
	PrivateKey  []byte     `db:"private_key_sealed"` // AES-256-GCM: nonce || ciphertext+tag
	CreatedAt   time.Time  `db:"created_at"`
	ActivatedAt *time.Time `db:"activated_at"`
	RetiredAt   *time.Time `db:"retired_at"`
	// VerifyUntil is, for a retired key, the time after which no token it
	// signed can still be valid (its retire time, or when it stopped signing
	// plus the access-token lifetime). Nil for next and active keys.
	VerifyUntil *time.Time `db:"verify_until"`
}

// Verifies reports whether tokens signed by k may still verify at now.
func (k *SigningKey) Verifies(now time.Time) bool {
	return k.State != KeyRetired || (k.VerifyUntil != nil && now.Before(*k.VerifyUntil))
}

// SigningKeyStore keeps the signing keys every replica shares.
type SigningKeyStore interface {
	// CreateSigningKey stores a new key (ECONFLICT when the kid exists).
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys returns every key, oldest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	// SigningKey returns one key (ENOTFOUND when there is none).
	SigningKey(ctx context.Context, kid string) (*SigningKey, error)
	// ActivateSigningKey makes the next key kid active at at, and retires the
	// key that was active (if any) with VerifyUntil previousUntil, in one
	// transaction. ENOTFOUND when kid does not exist; ECONFLICT with Reason
	// "key_state" when it is not a next key.
	ActivateSigningKey(ctx context.Context, kid string, at, previousUntil time.Time) error
	// RetireSigningKey retires key kid at at, with VerifyUntil until, when it
	// is still in state from (ECONFLICT with Reason "key_state" otherwise, so
	// that a concurrent change is never overwritten). ENOTFOUND when kid does
	// not exist.
	RetireSigningKey(ctx context.Context, kid string, from KeyState, at, until time.Time) error
}

// KeyPublisher publishes the public signing keys.
type KeyPublisher interface {
	// JWKS returns the JSON Web Key Set document (RFC 7517) of every public
	// key that may still verify a token. It never contains a secret.
	JWKS() []byte
}
