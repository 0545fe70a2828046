package account

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
)

// revocationMargin keeps a revoked jti listed a little past the token's exp,
// beyond the parser's leeway.
const revocationMargin = domain.TokenLeeway + 30*time.Second

// Register creates an account with the welcome email queued in the same
// transaction and logs the new user in. Self-registration never creates an
// admin: r.IsAdmin is ignored.
func (s *Service) Register(ctx context.Context, r domain.Registration) (*domain.User, *domain.AccessToken, error) {
	r.IsAdmin = false
	u, err := s.createUser(ctx, r, true)
	if err != nil {
		return nil, nil, err
	}
	tok, err := s.startSession(ctx, u, 0, nil)
	if err != nil {
		return nil, nil, err
	}
	return u, tok, nil
}

// CreateUser creates an account (admin or not) with the same validation as
// Register and queues the welcome email and, unless r.Verified, a link
// verifying the email; for `authsvc user create`.
func (s *Service) CreateUser(ctx context.Context, r domain.Registration) (*domain.User, error) {
	return s.createUser(ctx, r, false)
}

// createUser is CreateUser; self says the new user registered themselves
// (the audit event's actor) rather than the CLI.
func (s *Service) createUser(ctx context.Context, r domain.Registration, self bool) (*domain.User, error) {
	var v domain.Validator
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
	u := &domain.User{Username: r.Username, Email: domain.CanonicalEmail(r.Email), PasswordHash: hash, IsAdmin: r.IsAdmin}
	if r.Verified {
		now := s.now()
		u.EmailVerifiedAt = &now
	}
	welcome := &domain.OutboundEmail{Kind: domain.EmailWelcome, Recipient: u.Email,
		Data: map[string]string{domain.EmailKeyUsername: u.Username}}
	ev := event(domain.AuditRegistered, 0, 0, map[string]any{"is_admin": u.IsAdmin, "email_verified": u.EmailVerified()})
	if self {
		ev.ActorIsTarget = true
	} else {
		ev.Details = cli(ev.Details)
	}
	// The account, its audit event, the welcome email and (unless verified
	// already) the link verifying its email: one transaction.
	var verify *domain.EmailVerification
	mail := []*domain.OutboundEmail{welcome}
	if !u.EmailVerified() {
		var link *domain.OutboundEmail
		verify, link = s.newVerification(u, u.Email)
		mail = append(mail, link)
	}
	if err := s.db.RegisterUser(audited(ctx, ev), u, verify, mail...); err != nil {
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
func (s *Service) Login(ctx context.Context, username, password string) (*domain.AccessToken, error) {
	var v domain.Validator
	required(&v, username, "username")
	if required(&v, password, "password") && s.policy.TooLong(password) {
		v.Add(domain.MsgPasswordTooLong, domain.TypeStringTooLong, "body", "password")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !domain.ValidUsername(username) { // no account can have it: nothing to count
		s.hasher.CompareDummy(password)
		s.opts.Metrics.LoginFailed()
		return nil, domain.ErrInvalidCredentials
	}
	// Two database round trips: the attempt is counted (and the user read)
	// BEFORE the password is compared, so that concurrent guesses cannot
	// slip past the limit while their compares run; then the outcome.
	key := strings.ToLower(username)
	start, err := s.db.BeginLogin(ctx, key, s.opts.FailedLoginLimit, s.opts.FailedLoginWindow)
	if err != nil {
		return nil, err
	}
	if start.Refused {
		return nil, s.limited(key, start.WindowEnd)
	}
	u, err := s.checkPassword(start.User, password)
	if err != nil {
		if isCode(err, domain.EUNAUTHORIZED) {
			s.opts.Metrics.LoginFailed() // the attempt stays counted
			s.recordFailure(ctx, u, start.Failures)
		}
		return nil, err
	}
	finish := &domain.LoginFinish{Rehash: s.rehash(u, password)}
	if !start.MFAEnabled { // an enrolled account's count is cleared by its second factor
		finish.ClearFailures = key
	}
	switch {
	case s.opts.RequireVerifiedEmail && !u.EmailVerified():
		if err := s.finishLogin(ctx, finish); err != nil {
			return nil, err
		}
		return nil, domain.ErrEmailNotVerified // only to whoever knows the password
	case start.MFAEnabled:
		tok, challenge := s.newChallenge(u, domain.AMRPassword, start.HasPasskeys)
		finish.Challenge = challenge
		if err := s.finishLogin(ctx, finish); err != nil {
			return nil, err
		}
		return tok, nil
	}
	finish.Session = s.newSession(ctx, u, 0)
	ev := event(domain.AuditLoginSucceeded, u.ID, u.ID, map[string]any{"session_id": finish.Session.ID})
	if err := s.finishLogin(audited(ctx, ev), finish); err != nil {
		return nil, err
	}
	s.opts.Metrics.LoginSucceeded()
	return s.issue(u, finish.Session.CreatedAt, finish.Session.ID, nil)
}

// LoginIdentifier is Login with a username or an email address (the
// hosted sign-in page's one field). An address is looked up first, found
// or not, so that both paths cost the same lookup before Login's own
// work; an address no account has gets Login's unknown-user answer.
func (s *Service) LoginIdentifier(ctx context.Context, identifier, password string) (*domain.AccessToken, error) {
	if strings.Contains(identifier, "@") {
		u, err := s.db.UserByEmail(ctx, domain.CanonicalEmail(identifier))
		switch {
		case err == nil:
			identifier = u.Username
		case !isCode(err, domain.ENOTFOUND):
			return nil, err
		}
	}
	return s.Login(ctx, identifier, password)
}

// finishLogin stores f, the second round trip of a login.
func (s *Service) finishLogin(ctx context.Context, f *domain.LoginFinish) error {
	if err := s.db.FinishLogin(ctx, f); err != nil {
		return err
	}
	if f.Rehash != nil {
		s.log.Info().Int64("user_id", f.Rehash.UserID).Msg("password rehashed at the configured bcrypt cost")
	}
	return nil
}

// recordFailure records a failed password check of u (nil
// for an unknown user), and login.limited when it used the last attempt of
// the window: once per window, however long an attacker keeps trying.
//
// A submitted name that is no account's is not recorded: people type their
// password into the username field, and the trail must never hold one.
func (s *Service) recordFailure(ctx context.Context, u *domain.User, failures int) {
	var target int64
	details := func() map[string]any { return map[string]any{"unknown_user": true} }
	if u != nil {
		target = u.ID
		details = func() map[string]any { return map[string]any{"username": u.Username} }
	}
	events := []*domain.AuditEvent{event(domain.AuditLoginFailed, 0, target, details())}
	if failures == s.opts.FailedLoginLimit {
		events = append(events, event(domain.AuditLoginLimited, 0, target, details()))
	}
	s.record(ctx, events...)
}

// reserveLoginAttempt counts an attempt for the lowercased username BEFORE
// a password or code is compared, so that concurrent guesses cannot slip
// past the limit while their compares run; a success clears the count. It
// returns the failures counted in the window, this attempt included, or
// the 429 once the limit is reached.
func (s *Service) reserveLoginAttempt(ctx context.Context, key string) (int, error) {
	a, err := s.db.CountLoginAttempt(ctx, key, s.opts.FailedLoginLimit, s.opts.FailedLoginWindow)
	if err != nil {
		return 0, err
	}
	if a.Refused {
		return 0, s.limited(key, a.WindowEnd)
	}
	return a.Failures, nil
}

// limited is the 429 of a username whose window's attempts are used up.
func (s *Service) limited(key string, windowEnd time.Time) error {
	s.opts.Metrics.LoginFailed()
	s.log.Warn().Str("username", key).Msg("login refused: too many failures")
	return domain.ErrRateLimited.WithRetryAfter(max(windowEnd.Sub(s.now()), time.Second))
}

// checkPassword returns u when password is theirs, else the
// invalid-credentials 401 (with u, for the audit trail); a nil u (no
// account has the name) costs a dummy compare.
func (s *Service) checkPassword(u *domain.User, password string) (*domain.User, error) {
	if u == nil {
		s.hasher.CompareDummy(password)
		return nil, domain.ErrInvalidCredentials
	}
	if err := s.hasher.Compare(u.PasswordHash, password); err != nil {
		if isCode(err, domain.EUNAUTHORIZED) {
			return u, domain.ErrInvalidCredentials.With(err)
		}
		return nil, err
	}
	return u, nil
}

// rehash returns the replacement of u's hash by one of password at the
// configured cost when u's hash was made at another cost (nil otherwise),
// so that after a cost change the login of an existing account stops being
// measurably faster (or slower) than the dummy compare of an unknown one.
// Tokens stay valid (no version bump); a concurrent password change wins.
// A hashing failure is logged, never the login's.
func (s *Service) rehash(u *domain.User, password string) *domain.Rehash {
	if !s.hasher.NeedsRehash(u.PasswordHash) {
		return nil
	}
	hash, err := s.hasher.Hash(password)
	if err != nil {
		s.log.Warn().Err(err).Int64("user_id", u.ID).Msg("rehash at the configured bcrypt cost failed")
		return nil
	}
	r := &domain.Rehash{UserID: u.ID, OldHash: u.PasswordHash, NewHash: hash}
	u.PasswordHash = hash
	return r
}

// issue issues an access token of the session sessionID for u; authTime
// zero means now. The token never outlives the session (auth_time +
// MaxSession).
func (s *Service) issue(u *domain.User, authTime time.Time, sessionID string, amr []string) (*domain.AccessToken, error) {
	if authTime.IsZero() {
		authTime = s.now()
	}
	tok, claims, err := s.tokens.IssueAccess(u, authTime, sessionID, amr...)
	if err != nil {
		return nil, err
	}
	if end := authTime.Add(s.opts.MaxSession); claims.ExpiresAt.After(end) {
		if tok, claims, err = s.tokens.IssueAccessTTL(u, authTime, end.Sub(s.now()), sessionID, amr...); err != nil {
			return nil, err
		}
	}
	s.opts.Metrics.TokenIssued()
	return &domain.AccessToken{Token: tok, Claims: claims}, nil
}

// Authenticate implements domain.Authenticator: it verifies the token, then
// with one query checks that the user exists, that the token version is
// current, that the jti is not revoked and that the token's session (sid)
// is alive. Admin rights come from the row. A token without sid (issued
// before sessions existed) is checked as before, for the rest of its life.
// With RequireVerifiedEmail an unverified account's valid token is EFORBIDDEN
// (Reason email_not_verified).
func (s *Service) Authenticate(ctx context.Context, bearer string) (*domain.Principal, error) {
	claims, err := s.tokens.ParseAccess(bearer)
	if err != nil {
		s.opts.Metrics.TokenRefused(refusalReason(err))
		return nil, err
	}
	check, err := s.db.AuthUser(ctx, claims.UserID, claims.JTI, claims.SessionID)
	reason := ""
	switch {
	case isCode(err, domain.ENOTFOUND):
		reason = "user_gone"
	case err != nil:
		return nil, err
	case check.Revoked:
		reason = "revoked"
	case check.User.TokenVersion != claims.TokenVersion:
		reason = "stale_version"
	case claims.SessionID != "" && !check.SessionAlive:
		reason = "session_ended"
	}
	if reason != "" {
		s.opts.Metrics.TokenRefused(reason)
		return nil, domain.ErrInvalidToken
	}
	if s.opts.RequireVerifiedEmail && !check.User.EmailVerified() {
		// The registration's token, or one issued before the setting was
		// turned on: an unverified account cannot use the API.
		return nil, domain.ErrEmailNotVerified
	}
	p := &domain.Principal{User: check.User, Claims: claims}
	if s.opts.MFARequiredForAdmins && p.User.IsAdmin && claims.AAL != domain.AAL2 {
		on, err := s.db.MFAEnabled(ctx, p.User.ID)
		if err != nil {
			return nil, err
		}
		p.EnrollmentOnly = !on
	}
	return p, nil
}

// Refresh revokes a still-valid access token and issues a new one with a new
// jti and expiry and the same auth_time. Of concurrent refreshes with one
// token exactly one succeeds. Past MaxSession since auth_time it is a 401.
func (s *Service) Refresh(ctx context.Context, tok string) (*domain.AccessToken, error) {
	if tok == "" {
		var v domain.Validator
		required(&v, tok, "token")
		return nil, v.Err()
	}
	p, err := s.Authenticate(ctx, tok)
	if err != nil {
		return nil, err
	}
	if !s.now().Before(p.Claims.AuthTime.Add(s.opts.MaxSession)) {
		s.opts.Metrics.TokenRefused("session_expired")
		return nil, domain.ErrSessionExpired
	}
	ctx = audited(ctx, event(domain.AuditRefreshed, p.User.ID, p.User.ID, map[string]any{"session_id": p.SessionID()}))
	if err := s.db.RefreshSession(ctx, p.Claims.JTI, p.Claims.ExpiresAt.Add(revocationMargin), p.SessionID()); err != nil {
		if isCode(err, domain.ECONFLICT) {
			s.opts.Metrics.TokenRefused("already_refreshed")
			return nil, domain.ErrInvalidToken.With(err)
		}
		return nil, err
	}
	return s.issue(p.User, p.Claims.AuthTime, p.SessionID(), p.Claims.AMR) // a refresh keeps amr and aal
}

// IssueToken issues an access token for the named user with a custom
// lifetime, for `authsvc token issue`. ENOTFOUND, EINVALID for ttl <= 0.
func (s *Service) IssueToken(ctx context.Context, username string, ttl time.Duration) (*domain.AccessToken, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, domain.ErrTokenLifetime
	}
	return s.startSession(ctx, u, ttl, event(domain.AuditTokenIssued, 0, u.ID, cli(map[string]any{"ttl": ttl.String()})))
}

// refusalReason is the metrics reason of a refused token ("" if none).
func refusalReason(err error) string {
	var r domain.TokenRefusal
	if errors.As(err, &r) {
		return r.RefusalReason()
	}
	return ""
}
