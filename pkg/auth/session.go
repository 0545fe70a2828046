package auth

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/authsvc"
)

// revocationMargin keeps a revoked jti listed a little past the token's exp,
// beyond the parser's leeway.
const revocationMargin = authsvc.TokenLeeway + 30*time.Second

// Register creates an account with the welcome email queued in the same
// transaction and logs the new user in. Self-registration never creates an
// admin: r.IsAdmin is ignored.
func (s *Service) Register(ctx context.Context, r authsvc.Registration) (*authsvc.User, *authsvc.AccessToken, error) {
	r.IsAdmin = false
	u, err := s.CreateUser(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	tok, err := s.issue(u, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	return u, tok, nil
}

// CreateUser creates an account (admin or not) with the same validation as
// Register and queues the welcome email; for `authsvc user create`.
func (s *Service) CreateUser(ctx context.Context, r authsvc.Registration) (*authsvc.User, error) {
	var v authsvc.Validator
	validateUsername(&v, r.Username, "username")
	validateEmail(&v, r.Email, "email")
	s.validatePassword(&v, r.Password, "password")
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(r.Password)
	if err != nil {
		return nil, err
	}
	u := &authsvc.User{Username: r.Username, Email: strings.ToLower(r.Email), PasswordHash: hash, IsAdmin: r.IsAdmin}
	welcome := &authsvc.OutboundEmail{Kind: authsvc.EmailWelcome, Recipient: u.Email,
		Data: map[string]string{authsvc.EmailKeyUsername: u.Username}}
	if err := s.db.CreateUser(ctx, u, welcome); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", u.ID).Bool("is_admin", u.IsAdmin).Msg("user created")
	return u, nil
}

// Login checks username and password and issues an access token. Unknown
// user and wrong password give the same 401 after the same bcrypt work; a
// password over 72 bytes is a 422 before any compare; after
// FailedLoginLimit failures in a window the username gets 429 until the
// window ends.
func (s *Service) Login(ctx context.Context, username, password string) (*authsvc.AccessToken, error) {
	var v authsvc.Validator
	required(&v, username, "username")
	if required(&v, password, "password") && s.policy.TooLong(password) {
		v.Add(authsvc.MsgPasswordTooLong, authsvc.TypeStringTooLong, "body", "password")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !ValidUsername(username) { // no account can have it: nothing to count
		s.hasher.CompareDummy(password)
		s.opts.Metrics.LoginFailed()
		return nil, authsvc.ErrInvalidCredentials
	}
	key := strings.ToLower(username)
	if err := s.reserveLoginAttempt(ctx, key); err != nil {
		return nil, err
	}
	u, err := s.checkPassword(ctx, username, password)
	if err != nil {
		if isCode(err, authsvc.EUNAUTHORIZED) {
			s.opts.Metrics.LoginFailed() // the attempt stays counted
		}
		return nil, err
	}
	if err := s.db.ClearLoginFailures(ctx, key); err != nil {
		return nil, err
	}
	s.opts.Metrics.LoginSucceeded()
	return s.issue(u, time.Time{})
}

// reserveLoginAttempt counts a login attempt for the lowercased username
// BEFORE its password is compared, so that concurrent guesses cannot slip
// past the limit while their compares run; a successful login clears the
// count. A username already over the limit is refused with a read only.
func (s *Service) reserveLoginAttempt(ctx context.Context, key string) error {
	limited := func(windowEnd time.Time) error {
		s.opts.Metrics.LoginFailed()
		s.log.Warn().Str("username", key).Msg("login refused: too many failures")
		return authsvc.ErrRateLimited.WithRetryAfter(max(windowEnd.Sub(s.now()), time.Second))
	}
	failures, windowEnd, err := s.db.LoginFailures(ctx, key, s.opts.FailedLoginWindow)
	if err != nil {
		return err
	}
	if failures >= s.opts.FailedLoginLimit {
		return limited(windowEnd)
	}
	failures, windowEnd, err = s.db.RecordLoginFailure(ctx, key, s.opts.FailedLoginWindow)
	if err != nil {
		return err
	}
	if failures > s.opts.FailedLoginLimit {
		return limited(windowEnd)
	}
	return nil
}

// checkPassword returns the user when password is theirs, else the
// invalid-credentials 401; an unknown user costs a dummy compare.
func (s *Service) checkPassword(ctx context.Context, username, password string) (*authsvc.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if isCode(err, authsvc.ENOTFOUND) {
		s.hasher.CompareDummy(password)
		return nil, authsvc.ErrInvalidCredentials
	}
	if err != nil {
		return nil, err
	}
	if err := s.hasher.Compare(u.PasswordHash, password); err != nil {
		if isCode(err, authsvc.EUNAUTHORIZED) {
			return nil, authsvc.ErrInvalidCredentials.With(err)
		}
		return nil, err
	}
	return u, nil
}

// issue issues an access token for u; authTime zero means now. The token
// never outlives the session (auth_time + MaxSession).
func (s *Service) issue(u *authsvc.User, authTime time.Time) (*authsvc.AccessToken, error) {
	if authTime.IsZero() {
		authTime = s.now()
	}
	tok, claims, err := s.tokens.IssueAccess(u, authTime)
	if err != nil {
		return nil, err
	}
	if end := authTime.Add(s.opts.MaxSession); claims.ExpiresAt.After(end) {
		if tok, claims, err = s.tokens.IssueAccessTTL(u, authTime, end.Sub(s.now())); err != nil {
			return nil, err
		}
	}
	s.opts.Metrics.TokenIssued()
	return &authsvc.AccessToken{Token: tok, Claims: claims}, nil
}

// Authenticate implements authsvc.Authenticator: it verifies the token, then
// with one query checks that the user exists, that the token version is
// current and that the jti is not revoked. Admin rights come from the row.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*authsvc.Principal, error) {
	claims, err := s.tokens.ParseAccess(bearer)
	if err != nil {
		s.opts.Metrics.TokenRefused(refusalReason(err))
		return nil, err
	}
	u, revoked, err := s.db.AuthUser(ctx, claims.UserID, claims.JTI)
	reason := ""
	switch {
	case isCode(err, authsvc.ENOTFOUND):
		reason = "user_gone"
	case err != nil:
		return nil, err
	case revoked:
		reason = "revoked"
	case u.TokenVersion != claims.TokenVersion:
		reason = "stale_version"
	}
	if reason != "" {
		s.opts.Metrics.TokenRefused(reason)
		return nil, authsvc.ErrInvalidToken
	}
	return &authsvc.Principal{User: u, Claims: claims}, nil
}

// Refresh revokes a still-valid access token and issues a new one with a new
// jti and expiry and the same auth_time. Of concurrent refreshes with one
// token exactly one succeeds. Past MaxSession since auth_time it is a 401.
func (s *Service) Refresh(ctx context.Context, tok string) (*authsvc.AccessToken, error) {
	if tok == "" {
		var v authsvc.Validator
		required(&v, tok, "token")
		return nil, v.Err()
	}
	p, err := s.Authenticate(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(p.Claims.AuthTime.Add(s.opts.MaxSession)) {
		s.opts.Metrics.TokenRefused("session_expired")
		return nil, authsvc.ErrSessionExpired
	}
	if err := s.db.RevokeToken(ctx, p.Claims.JTI, p.Claims.ExpiresAt.Add(revocationMargin)); err != nil {
		if isCode(err, authsvc.ECONFLICT) {
			s.opts.Metrics.TokenRefused("already_refreshed")
			return nil, authsvc.ErrInvalidToken.With(err)
		}
		return nil, err
	}
	return s.issue(p.User, p.Claims.AuthTime)
}

// Logout revokes the caller's token until it expires. Logging out twice
// concurrently is not an error.
func (s *Service) Logout(ctx context.Context, p *authsvc.Principal) error {
	err := s.db.RevokeToken(ctx, p.Claims.JTI, p.Claims.ExpiresAt.Add(revocationMargin))
	if err != nil && !isCode(err, authsvc.ECONFLICT) {
		return err
	}
	return nil
}

// IssueToken issues an access token for the named user with a custom
// lifetime, for `authsvc token issue`. ENOTFOUND, EINVALID for ttl <= 0.
func (s *Service) IssueToken(ctx context.Context, username string, ttl time.Duration) (*authsvc.AccessToken, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	tok, claims, err := s.tokens.IssueAccessTTL(u, s.now(), ttl)
	if err != nil {
		return nil, err
	}
	s.opts.Metrics.TokenIssued()
	return &authsvc.AccessToken{Token: tok, Claims: claims}, nil
}

// refusalReason is the metrics reason of a refused token ("" if none).
func refusalReason(err error) string {
	var r authsvc.TokenRefusal
	if errors.As(err, &r) {
		return r.RefusalReason()
	}
	return ""
}
