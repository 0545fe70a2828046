package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/golang-jwt/jwt/v5"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Refusal reasons, for metrics ("tokens refused by reason"). RefusalReason
// returns one of them for every error of ParseAccess and ParseReset.
const (
	ReasonTooLarge      = "too_large"      // over MaxTokenBytes; not parsed
	ReasonMalformed     = "malformed"      // not three base64url JSON segments, or a claim of the wrong type
	ReasonWrongAlg      = "wrong_alg"      // alg not supported (none, HS384, ...) or not the alg of the kid's key
	ReasonUnknownKey    = "unknown_kid"    // kid names no key this service knows
	ReasonKeyRetired    = "key_retired"    // the kid's key is retired and its tokens no longer verify
	ReasonBadSignature  = "bad_signature"  // signed with another key, or edited
	ReasonExpired       = "expired"        // exp passed (beyond the leeway)
	ReasonNotYetValid   = "not_yet_valid"  // nbf or iat in the future (beyond the leeway)
	ReasonWrongIssuer   = "wrong_issuer"   // iss missing or not ours
	ReasonWrongAudience = "wrong_audience" // aud missing or not ours
	ReasonWrongClaims   = "wrong_claims"   // a required claim is missing or invalid (exp 0, bad sub, ...)
	ReasonWrongPurpose  = "wrong_purpose"  // a reset token as an access token, or the reverse
)

// refusal is the cause of a refused token: a reason for metrics and the
// library error for logs. Neither ever contains the token.
type refusal struct {
	reason string
	err    error
}

func (r *refusal) Error() string {
	if r.err != nil {
		return "token refused (" + r.reason + "): " + r.err.Error()
	}
	return "token refused (" + r.reason + ")"
}

func (r *refusal) Unwrap() error { return r.err }

// RefusalReason implements domain.TokenRefusal.
func (r *refusal) RefusalReason() string { return r.reason }

// refuse returns the EUNAUTHORIZED error for a refused token.
func refuse(reason string, cause error) error {
	client := domain.ErrInvalidToken
	if reason == ReasonExpired {
		client = domain.ErrTokenExpired
	}
	return client.With(&refusal{reason: reason, err: cause})
}

// RefusalReason returns why a token was refused (one of the Reason*
// constants) when err came from ParseAccess or ParseReset, else "".
func RefusalReason(err error) string {
	var r *refusal
	if errors.As(err, &r) {
		return r.reason
	}
	return ""
}

// wireClaims is what ParseAccess and ParseReset read from a payload.
// Pointers tell a missing claim from a zero one.
type wireClaims struct {
	Subject   string           `json:"sub"`
	Username  *string          `json:"username"`
	IsAdmin   *bool            `json:"is_admin"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	ID        string           `json:"jti"`
	Issuer    string           `json:"iss"`
	Audience  jwt.ClaimStrings `json:"aud"`
	Version   *int64           `json:"ver"`
	AuthTime  *jwt.NumericDate `json:"auth_time"`
	SessionID string           `json:"sid"`
	AMR       []string         `json:"amr"`
	AAL       string           `json:"aal"`
	Purpose   json.RawMessage  `json:"purpose"` // present even when null
}

// GetExpirationTime implements jwt.Claims.
func (c *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt, nil }

// GetIssuedAt implements jwt.Claims.
func (c *wireClaims) GetIssuedAt() (*jwt.NumericDate, error) { return c.IssuedAt, nil }

// GetNotBefore implements jwt.Claims.
func (c *wireClaims) GetNotBefore() (*jwt.NumericDate, error) { return c.NotBefore, nil }

// GetIssuer implements jwt.Claims.
func (c *wireClaims) GetIssuer() (string, error) { return c.Issuer, nil }

// GetSubject implements jwt.Claims.
func (c *wireClaims) GetSubject() (string, error) { return c.Subject, nil }

// GetAudience implements jwt.Claims.
func (c *wireClaims) GetAudience() (jwt.ClaimStrings, error) { return c.Audience, nil }

// ParseAccess verifies an access token (signature with the key of its kid and
// that key's algorithm only, exp/nbf/iat with a 30 s leeway, iss, aud when
// configured, and every claim an access token carries) and returns
// its claims. A token with a purpose claim (a reset token) is refused. Errors
// are EUNAUTHORIZED with Reason "token_expired" or "invalid_token".
func (i *Issuer) ParseAccess(token string) (*domain.Claims, error) {
	c, err := i.parse(token, i.accessKey, i.checkAccess)
	if err != nil {
		return nil, err
	}
	id, _ := parseSubject(c.Subject) // checked by checkAccess
	return &domain.Claims{
		UserID:       id,
		Username:     *c.Username,
		IsAdmin:      *c.IsAdmin,
		TokenVersion: *c.Version,
		JTI:          c.ID,
		IssuedAt:     c.IssuedAt.UTC(),
		ExpiresAt:    c.ExpiresAt.UTC(),
		AuthTime:     c.AuthTime.UTC(),
		SessionID:    c.SessionID,
		AMR:          c.AMR,
		AAL:          c.AAL,
	}, nil
}

// ParseReset verifies a password-reset token (as ParseAccess, and purpose
// "pwreset") and returns its user id. An access token is refused. Errors are
// EUNAUTHORIZED with Reason "token_expired" or "invalid_token"; the use case
// turns them into its own 400.
func (i *Issuer) ParseReset(token string) (int64, error) {
	c, err := i.parse(token, i.resetKey, checkReset)
	if err != nil {
		return 0, err
	}
	id, _ := parseSubject(c.Subject) // checked by checkReset
	return id, nil
}

// parse verifies token and its claims; check is the kind-specific claim test,
// run once the signature is known good.
func (i *Issuer) parse(token string, key jwt.Keyfunc, check func(*wireClaims) string) (*wireClaims, error) {
	if len(token) > MaxTokenBytes {
		return nil, refuse(ReasonTooLarge, nil)
	}
	var c wireClaims
	t, err := i.parser.ParseWithClaims(token, &c, key)
	if err != nil {
		return nil, i.classify(t, &c, err, check)
	}
	if reason := check(&c); reason != "" {
		return nil, refuse(reason, nil)
	}
	return &c, nil
}

// classify maps a jwt error to a refusal reason. Claim problems are only
// looked at once the signature is good (jwt.ErrTokenInvalidClaims); then the
// kind-specific checks come first, so that a wrong-purpose or malformed
// token that has also expired is not reported as merely expired.
func (i *Issuer) classify(t *jwt.Token, c *wireClaims, err error, check func(*wireClaims) string) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return refuse(ReasonMalformed, err)
	case errors.Is(err, errUnknownKID):
		return refuse(ReasonUnknownKey, err)
	case errors.Is(err, errAlgMismatch), t != nil && methods[fmt.Sprint(t.Header["alg"])] == nil:
		return refuse(ReasonWrongAlg, err)
	case errors.Is(err, errKeyRetired):
		return refuse(ReasonKeyRetired, err)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return refuse(ReasonBadSignature, err)
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return refuse(ReasonMalformed, err)
	}
	if reason := check(c); reason != "" {
		return refuse(reason, err)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrInvalidType):
		return refuse(ReasonWrongClaims, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return refuse(ReasonWrongIssuer, err)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse(ReasonWrongAudience, err)
	case errors.Is(err, jwt.ErrTokenExpired):
		return refuse(ReasonExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return refuse(ReasonNotYetValid, err)
	}
	return refuse(ReasonWrongClaims, err)
}

// checkCommon tests the claims both kinds carry; it returns a reason or "".
func checkCommon(c *wireClaims) string {
	if _, ok := parseSubject(c.Subject); !ok || c.ID == "" || len(c.ID) > 64 ||
		c.IssuedAt == nil || c.NotBefore == nil || c.ExpiresAt == nil || c.ExpiresAt.Unix() <= 0 {
		return ReasonWrongClaims
	}
	return ""
}

// checkAccess tests an access token's claims: no purpose; all of username,
// is_admin, ver and auth_time present; auth_time not in the future beyond
// the leeway (a future auth_time would stretch the session limit without
// end); and, with auth.refuse_secret_tokens, a sid (every token authsvc
// issues has one, so a token without it is legacy or forged).
func (i *Issuer) checkAccess(c *wireClaims) string {
	if c.Purpose != nil {
		return ReasonWrongPurpose
	}
	if c.Username == nil || *c.Username == "" || c.IsAdmin == nil || c.Version == nil || c.AuthTime == nil || len(c.SessionID) > 64 {
		return ReasonWrongClaims
	}
	if i.refuseSecret && c.SessionID == "" {
		return ReasonWrongClaims
	}
	if c.AuthTime.After(i.now().Add(Leeway)) {
		return ReasonNotYetValid
	}
	return checkCommon(c)
}

// checkReset tests a reset token's claims: purpose "pwreset".
func checkReset(c *wireClaims) string {
	var purpose string
	if c.Purpose == nil || json.Unmarshal(c.Purpose, &purpose) != nil || purpose != PurposeReset {
		return ReasonWrongPurpose
	}
	return checkCommon(c)
}

// parseSubject reads a user id written by strconv.FormatInt: a positive
// decimal in canonical form ("42", not "+42" or "042").
func parseSubject(sub string) (int64, bool) {
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != sub {
		return 0, false
	}
	return id, true
}
