// Package password hashes and checks passwords with bcrypt
// (golang.org/x/crypto/bcrypt) and refuses passwords that are too short, too
// long for bcrypt (over 72 bytes: never silently truncated) or too common.
//
// The common-password list is embedded, gzip-compressed; README.md in this
// directory says where it comes from and under which licence.
package password

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Password length limits, in bytes: the domain's (domain.MinPasswordBytes,
// domain.MaxPasswordBytes; 72 is bcrypt's limit), named here for this
// package's callers.
const (
	MinBytes = domain.MinPasswordBytes
	MaxBytes = domain.MaxPasswordBytes
)

// Cost limits accepted by New. The configuration restricts production to 10–14.
const (
	MinCost = bcrypt.MinCost // 4
	MaxCost = bcrypt.MaxCost // 31
)

// Hasher hashes and compares passwords at one bcrypt cost and checks new
// passwords against the length rules and the common-password list. It is
// safe for concurrent use.
type Hasher struct {
	cost   int
	dummy  atomic.Pointer[[]byte] // a real bcrypt hash at cost or above, of a random password nobody knows
	common *commonList
}

var (
	_ domain.PasswordHasher = (*Hasher)(nil)
	_ domain.PasswordPolicy = (*Hasher)(nil)
)

// New returns a Hasher at the given bcrypt cost (4..31). It computes the dummy
// hash once, so it takes as long as one Hash, and loads the common-password list.
func New(cost int) (*Hasher, error) {
	if cost < MinCost || cost > MaxCost {
		return nil, fmt.Errorf("password: bcrypt cost %d outside %d..%d", cost, MinCost, MaxCost)
	}
	common, err := sharedCommon()
	if err != nil {
		return nil, err
	}
	h := &Hasher{cost: cost, common: common}
	if err := h.makeDummy(cost); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *Hasher) makeDummy(cost int) error {
	dummy, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
	if err != nil {
		return fmt.Errorf("password: dummy hash: %w", err)
	}
	h.dummy.Store(&dummy)
	return nil
}

// MatchDummyCost remakes the dummy hash at cost when that is above the
// dummy's: serve passes the highest cost among the stored hashes (imported
// ones keep theirs until their first login rehashes them), so that a login
// for an unknown user takes as long as a wrong password for the slowest
// account and does not tell the two apart.
func (h *Hasher) MatchDummyCost(cost int) error {
	if cost <= h.DummyCost() {
		return nil
	}
	if cost > MaxCost {
		return fmt.Errorf("password: bcrypt cost %d above %d", cost, MaxCost)
	}
	return h.makeDummy(cost)
}

// DummyCost returns the bcrypt cost of the dummy hash.
func (h *Hasher) DummyCost() int {
	c, err := bcrypt.Cost(*h.dummy.Load())
	if err != nil {
		return h.cost // not reached: the dummy is made by bcrypt
	}
	return c
}

// Cost returns the bcrypt cost new hashes are made with.
func (h *Hasher) Cost() int { return h.cost }

// Hash returns the bcrypt hash of pw at the Hasher's cost. A password over 72
// bytes is EINVALID (it is never truncated); callers Validate first.
func (h *Hasher) Hash(pw string) (string, error) {
	if TooLong(pw) {
		return "", domain.ErrPasswordTooLong
	}
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return string(b), nil
}

// Compare returns nil when pw matches hash; EUNAUTHORIZED with Reason
// "invalid_credentials" on a mismatch or for a password over 72 bytes (bcrypt
// would compare only the first 72) or for an account with no password (an
// empty hash: passkey-only or made by an identity provider), which costs a
// dummy compare so it takes as long as a wrong password; EINTERNAL when hash
// is not a bcrypt hash.
func (h *Hasher) Compare(hash, pw string) error {
	if TooLong(pw) {
		return domain.ErrInvalidCredentials
	}
	if hash == domain.NoPassword {
		h.CompareDummy(pw)
		return domain.ErrInvalidCredentials
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return domain.ErrInvalidCredentials
	default:
		// A corrupt stored hash; the cause names no secret.
		return &domain.Error{Code: domain.EINTERNAL, Message: "stored password hash is unusable",
			Err: fmt.Errorf("password: compare: %w", err)}
	}
}

// CompareDummy runs a real bcrypt compare of pw against the dummy hash made at
// the Hasher's cost (or MatchDummyCost's), so that a login for an unknown user costs the same time
// as one for a known user. Its result is meaningless and is discarded.
func (h *Hasher) CompareDummy(pw string) {
	b := []byte(pw)
	if len(b) > MaxBytes {
		b = b[:MaxBytes] // still spend the time; the result is thrown away
	}
	_ = bcrypt.CompareHashAndPassword(*h.dummy.Load(), b)
}

// NeedsRehash reports whether hash was made at another cost than the
// Hasher's (or is not a bcrypt hash), so that a login may store a new hash.
// An account with no password has nothing to rehash.
func (h *Hasher) NeedsRehash(hash string) bool {
	if hash == domain.NoPassword {
		return false
	}
	c, err := bcrypt.Cost([]byte(hash))
	return err != nil || c != h.cost
}

// TooLong reports whether pw is over 72 bytes. It does no bcrypt work.
func (h *Hasher) TooLong(pw string) bool { return TooLong(pw) }

// TooLong reports whether pw is over 72 bytes (bcrypt's limit). The login path
// calls it before any compare.
func TooLong(pw string) bool { return len(pw) > MaxBytes }
