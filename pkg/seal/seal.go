// Package seal encrypts the secrets authsvc keeps in its database (private
// signing keys, TOTP secrets) under auth.key_encryption_key: AES-256-GCM with
// a key derived by HKDF-SHA256, bound to the id of what it belongs to.
// The signing keys (pkg/signingkeys, pkg/token) and MFA (pkg/account) both use it.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/authsvc/authsvc/pkg/domain"
)

// MinKeyBytes is the shortest accepted key-encryption key.
const MinKeyBytes = 32

// Sealer encrypts and decrypts small secrets with AES-256-GCM under a key
// derived (HKDF-SHA256) from the configured key-encryption key. The owner's
// id (a signing key's kid, a user id) is the additional data, so sealed data
// cannot be moved to another row.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte // HMAC-SHA256 key for MAC, derived apart from the sealing key
}

// New returns a Sealer for kek (at least 32 bytes).
func New(kek []byte) (*Sealer, error) {
	if len(kek) < MinKeyBytes {
		return nil, domain.ErrKEKRequired.With(fmt.Errorf("key-encryption key is %d bytes", len(kek)))
	}
	key, err := hkdf.Key(sha256.New, kek, nil, "authsvc signing-key encryption v1", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: gcm: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, kek, nil, "authsvc secret mac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("seal: derive mac key: %w", err)
	}
	return &Sealer{aead: aead, macKey: macKey}, nil
}

// MAC returns the HMAC-SHA256 of msg for owner under a key derived from the
// key-encryption key: a keyed hash for low-entropy secrets (recovery codes)
// that a copy of the database alone cannot search offline.
func (s *Sealer) MAC(owner string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(owner)) //nolint:errcheck // hash writes never fail
	m.Write([]byte{0})     //nolint:errcheck // hash writes never fail
	m.Write(msg)           //nolint:errcheck // hash writes never fail
	return m.Sum(nil)
}

// Seal encrypts plain for the key kid: nonce || ciphertext || tag.
func (s *Sealer) Seal(kid string, plain []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plain, []byte(kid))
}

// ErrWrongKey means sealed data did not open: the key-encryption key is not
// the one it was sealed with, or the data or its owner's id was changed.
var ErrWrongKey = errors.New("token: private key does not decrypt with auth.key_encryption_key")

// Open decrypts a sealed private key of the key kid.
func (s *Sealer) Open(kid string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrWrongKey
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(kid))
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}
