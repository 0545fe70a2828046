// Package token issues and verifies the service's JWTs (CONTRACT §3): access
// tokens and password-reset tokens, both HS256 via github.com/golang-jwt/jwt/v5
// with the algorithm pinned, signed with the bytes of the configured secret
// exactly as given.
package token

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// Limits and fixed values of the token format.
const (
	MinSecretBytes = 32                  // shorter secrets are refused by New
	MaxTokenBytes  = 4096                // longer tokens are refused before any parsing
	Leeway         = authsvc.TokenLeeway // clock skew allowed on exp, nbf and iat
	PurposeReset   = "pwreset"           // the purpose claim of password-reset tokens
	alg            = "HS256"
)

// Config configures an Issuer.
type Config struct {
	Secret    []byte        // the HMAC key, at least 32 bytes, used exactly as given
	Issuer    string        // the iss claim written and required
	Audience  string        // the aud claim written and required
	AccessTTL time.Duration // lifetime of access tokens
	ResetTTL  time.Duration // lifetime of password-reset tokens
	Now       authsvc.Clock
}

// Issuer issues and verifies access and reset tokens. It is safe for
// concurrent use.
type Issuer struct {
	secret    []byte
	issuer    string
	audience  string
	accessTTL time.Duration
	resetTTL  time.Duration
	now       func() time.Time
	parser    *jwt.Parser
}

var _ authsvc.TokenIssuer = (*Issuer)(nil)

// New returns an Issuer. It fails when the secret is shorter than 32 bytes,
// the issuer or audience is empty, or a lifetime is not positive. A nil Now
// means time.Now.
func New(cfg Config) (*Issuer, error) {
	switch {
	case len(cfg.Secret) < MinSecretBytes:
		return nil, fmt.Errorf("token: secret is %d bytes, at least %d are required", len(cfg.Secret), MinSecretBytes)
	case cfg.Issuer == "" || cfg.Audience == "":
		return nil, errors.New("token: issuer and audience must not be empty")
	case cfg.AccessTTL <= 0 || cfg.ResetTTL <= 0:
		return nil, errors.New("token: token lifetimes must be positive")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	i := &Issuer{
		secret:    append([]byte(nil), cfg.Secret...),
		issuer:    cfg.Issuer,
		audience:  cfg.Audience,
		accessTTL: cfg.AccessTTL,
		resetTTL:  cfg.ResetTTL,
		now:       now,
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(Leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(now),
	)
	return i, nil
}

// AccessTTL returns the configured lifetime of access tokens.
func (i *Issuer) AccessTTL() time.Duration { return i.accessTTL }

// ResetTTL returns the configured lifetime of password-reset tokens.
func (i *Issuer) ResetTTL() time.Duration { return i.resetTTL }

// accessOut is the payload of an access token, in the order it is written.
type accessOut struct {
	jwt.RegisteredClaims `json:"-"` // lends the jwt.Claims methods; never written
	Subject              string     `json:"sub"`
	Username             string     `json:"username"`
	IsAdmin              bool       `json:"is_admin"`
	IssuedAt             int64      `json:"iat"`
	NotBefore            int64      `json:"nbf"`
	ExpiresAt            int64      `json:"exp"`
	ID                   string     `json:"jti"`
	Issuer               string     `json:"iss"`
	Audience             string     `json:"aud"`
	Version              int64      `json:"ver"`
	AuthTime             int64      `json:"auth_time"`
}

// resetOut is the payload of a password-reset token.
type resetOut struct {
	jwt.RegisteredClaims `json:"-"` // lends the jwt.Claims methods; never written
	Purpose              string     `json:"purpose"`
	Subject              string     `json:"sub"`
	IssuedAt             int64      `json:"iat"`
	NotBefore            int64      `json:"nbf"`
	ExpiresAt            int64      `json:"exp"`
	ID                   string     `json:"jti"`
	Issuer               string     `json:"iss"`
	Audience             string     `json:"aud"`
}

// IssueAccess issues an access token for u that lives for the configured
// AccessTTL. authTime is when the password was last presented (the zero time
// means now).
func (i *Issuer) IssueAccess(u *authsvc.User, authTime time.Time) (string, *authsvc.Claims, error) {
	return i.IssueAccessTTL(u, authTime, i.accessTTL)
}

// IssueAccessTTL is IssueAccess with a custom lifetime, for `authsvc token
// issue --ttl`. It returns EINVALID when ttl is not positive.
func (i *Issuer) IssueAccessTTL(u *authsvc.User, authTime time.Time, ttl time.Duration) (string, *authsvc.Claims, error) {
	if ttl <= 0 {
		return "", nil, authsvc.Errorf(authsvc.EINVALID, "Token lifetime must be positive")
	}
	if u == nil || u.ID <= 0 {
		return "", nil, errors.New("token: issue access: user has no id")
	}
	now := i.now().UTC().Truncate(time.Second)
	if authTime.IsZero() {
		authTime = now
	}
	c := &authsvc.Claims{
		UserID:       u.ID,
		Username:     u.Username,
		IsAdmin:      u.IsAdmin,
		TokenVersion: u.TokenVersion,
		JTI:          newJTI(),
		IssuedAt:     now,
		ExpiresAt:    now.Add(ttl).Truncate(time.Second),
		AuthTime:     authTime.UTC().Truncate(time.Second),
	}
	tok, err := i.sign(accessOut{
		Subject:   strconv.FormatInt(c.UserID, 10),
		Username:  c.Username,
		IsAdmin:   c.IsAdmin,
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		ExpiresAt: c.ExpiresAt.Unix(),
		ID:        c.JTI,
		Issuer:    i.issuer,
		Audience:  i.audience,
		Version:   c.TokenVersion,
		AuthTime:  c.AuthTime.Unix(),
	})
	if err != nil {
		return "", nil, err
	}
	return tok, c, nil
}

// IssueReset issues a single-purpose password-reset token for the user that
// lives for the configured ResetTTL. The caller stores HashToken(token).
func (i *Issuer) IssueReset(userID int64) (string, time.Time, error) {
	if userID <= 0 {
		return "", time.Time{}, errors.New("token: issue reset: user has no id")
	}
	now := i.now().UTC().Truncate(time.Second)
	exp := now.Add(i.resetTTL).Truncate(time.Second)
	tok, err := i.sign(resetOut{
		Purpose:   PurposeReset,
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  now.Unix(),
		NotBefore: now.Unix(),
		ExpiresAt: exp.Unix(),
		ID:        newJTI(),
		Issuer:    i.issuer,
		Audience:  i.audience,
	})
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// sign signs payload with HS256 and the secret. The header is
// {"alg":"HS256","typ":"JWT"}.
func (i *Issuer) sign(payload jwt.Claims) (string, error) {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, payload).SignedString(i.secret)
	if err != nil {
		return "", fmt.Errorf("token: sign: %w", err)
	}
	return tok, nil
}

// newJTI returns 128 random bits, hex-encoded.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// HashToken returns the hex SHA-256 of a token: what the database stores
// instead of a reset token.
func HashToken(token string) string { return authsvc.HashToken(token) }
