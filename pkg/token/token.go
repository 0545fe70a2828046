// Package token issues and verifies the service's JWTs (docs/tokens.md) via
// github.com/golang-jwt/jwt/v5: access tokens, signed HS256 with the bytes of
// the configured secret exactly as given or, once one is active, with an
// asymmetric key from the database (EdDSA, ES256, RS256), and password-reset
// tokens, always HS256. Every token carries a kid header; each kid verifies
// only with its own key and algorithm.
package token

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Limits and fixed values of the token format.
const (
	MinSecretBytes = 32                 // shorter secrets are refused by New
	MaxTokenBytes  = 4096               // longer tokens are refused before any parsing
	Leeway         = domain.TokenLeeway // clock skew allowed on exp, nbf and iat
	PurposeReset   = "pwreset"          // the purpose claim of password-reset tokens
)

// Config configures an Issuer.
type Config struct {
	Secret    []byte        // the HMAC key, at least 32 bytes, used exactly as given
	Issuer    string        // the iss claim written and required
	Audience  string        // the aud claim written and required; empty: none written or required
	AccessTTL time.Duration // lifetime of access tokens
	ResetTTL  time.Duration // lifetime of password-reset tokens
	Now       domain.Clock
	// RefuseSecretAfterRotation stops HS256 access tokens from verifying once
	// the first asymmetric key ever activated has been active for an
	// access-token lifetime (later rotations do not move this), so that
	// whoever holds the secret can no longer mint tokens authsvc accepts, and
	// refuses access tokens without sid (auth.refuse_secret_tokens). Reset
	// tokens always use the secret.
	RefuseSecretAfterRotation bool
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
	hsKID     string
	keys      atomic.Pointer[keySet]
	// refuseSecret: see Config.RefuseSecretAfterRotation.
	refuseSecret bool
}

var _ domain.TokenIssuer = (*Issuer)(nil)

// New returns an Issuer that signs with the secret until SetKeys gives it an
// active key. It fails when the secret is shorter than 32 bytes, the issuer
// is empty, or a lifetime is not positive. An empty Audience means no aud
// claim is written or required. A nil Now means time.Now.
func New(cfg Config) (*Issuer, error) {
	switch {
	case len(cfg.Secret) < MinSecretBytes:
		return nil, fmt.Errorf("token: secret is %d bytes, at least %d are required", len(cfg.Secret), MinSecretBytes)
	case cfg.Issuer == "":
		return nil, errors.New("token: issuer must not be empty")
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
		hsKID:     secretKID(cfg.Secret),

		refuseSecret: cfg.RefuseSecretAfterRotation,
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{AlgHS256, AlgEdDSA, AlgES256, AlgRS256}), // each kid: its own alg only
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithLeeway(Leeway),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
		jwt.WithTimeFunc(now),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	i.parser = jwt.NewParser(opts...)
	i.keys.Store(i.secretOnly())
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
	Audience             string     `json:"aud,omitempty"`
	Version              int64      `json:"ver"`
	AuthTime             int64      `json:"auth_time"`
	SessionID            string     `json:"sid,omitempty"`
	AMR                  []string   `json:"amr,omitempty"`
	AAL                  string     `json:"aal,omitempty"`
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
	Audience             string     `json:"aud,omitempty"`
}

// IssueAccess issues an access token for u that lives for the configured
// AccessTTL. authTime is when the password was last presented (the zero time
// means now); sessionID, when not empty, is written as the sid claim. amr,
// when given, names the authentication methods used (RFC 8176); with "otp"
// among them the token also carries aal "aal2". Without amr neither claim
// is written (a password-only login, as before second factors existed).
func (i *Issuer) IssueAccess(u *domain.User, authTime time.Time, sessionID string, amr ...string) (string, *domain.Claims, error) {
	return i.IssueAccessTTL(u, authTime, i.accessTTL, sessionID, amr...)
}

// IssueAccessTTL is IssueAccess with a custom lifetime, for `authsvc token
// issue --ttl`. It returns EINVALID when ttl is not positive.
func (i *Issuer) IssueAccessTTL(u *domain.User, authTime time.Time, ttl time.Duration, sessionID string, amr ...string) (string, *domain.Claims, error) {
	if ttl <= 0 {
		return "", nil, domain.Errorf(domain.EINVALID, "Token lifetime must be positive")
	}
	if u == nil || u.ID <= 0 {
		return "", nil, errors.New("token: issue access: user has no id")
	}
	now := i.now().UTC().Truncate(time.Second)
	if authTime.IsZero() {
		authTime = now
	}
	c := &domain.Claims{
		UserID:       u.ID,
		Username:     u.Username,
		IsAdmin:      u.IsAdmin,
		TokenVersion: u.TokenVersion,
		JTI:          newJTI(),
		IssuedAt:     now,
		ExpiresAt:    now.Add(ttl).Truncate(time.Second),
		AuthTime:     authTime.UTC().Truncate(time.Second),
		SessionID:    sessionID,
		AMR:          amr,
		AAL:          domain.AALOf(amr),
	}
	tok, err := i.sign(i.keys.Load().signer, accessOut{
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
		SessionID: c.SessionID,
		AMR:       c.AMR,
		AAL:       c.AAL,
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
	tok, err := i.sign(i.secretOnly().signer, resetOut{
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

// sign signs payload with s. The header is {"alg":…,"kid":…,"typ":"JWT"}.
func (i *Issuer) sign(s signer, payload jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(s.method, payload)
	t.Header["kid"] = s.kid
	tok, err := t.SignedString(s.key)
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
func HashToken(token string) string { return domain.HashToken(token) }
