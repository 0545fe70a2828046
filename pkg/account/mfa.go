package account

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/authsvc/authsvc/pkg/domain"
)

// qrSize is the width and height of the enrolment QR code, in pixels.
const qrSize = 256

// totpAAD binds a sealed TOTP secret to its user: a sealed value copied to
// another user's row does not open.
func totpAAD(userID int64) string { return "totp:" + strconv.FormatInt(userID, 10) }

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: domain.TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
}

// EnrollTOTP starts the caller's TOTP enrolment: a new secret, sealed and
// stored unconfirmed (replacing an earlier unconfirmed one), shown once with
// its otpauth URI and a QR code. Nothing is active until ConfirmTOTP. The
// caller's password is asked for unless their sign-in is younger than
// domain.RecentSignIn (EINVALID when missing, EUNAUTHORIZED when wrong,
// counted toward the account's failure limit).
// EINVALID (key_encryption_key_required) without a key-encryption key; ECONFLICT when MFA
// is already on.
func (s *Service) EnrollTOTP(ctx context.Context, p *domain.Principal, password string) (*domain.TOTPEnrollment, error) {
	if s.sealer == nil {
		return nil, domain.ErrMFAKEKRequired
	}
	if err := s.recentOrPassword(ctx, p, password); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.opts.TOTPIssuer, AccountName: p.User.Username,
		Period: domain.TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader})
	if err != nil {
		return nil, fmt.Errorf("generate totp secret: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp qr code: %w", err)
	}
	sealed := s.sealer.Seal(totpAAD(p.User.ID), []byte(key.Secret()))
	if err := s.db.PutTOTP(ctx, p.User.ID, sealed); err != nil {
		return nil, err
	}
	return &domain.TOTPEnrollment{Secret: key.Secret(), URI: key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())}, nil
}

// recentOrPassword lets a caller who signed in within domain.RecentSignIn
// through, and otherwise asks for their password (counted like a login), so
// that a stolen access token alone cannot enrol the thief's authenticator.
func (s *Service) recentOrPassword(ctx context.Context, p *domain.Principal, password string) error {
	if password == "" && s.recentSignIn(p) {
		return nil
	}
	if !p.User.HasPassword() {
		return domain.ErrRecentSignInRequired
	}
	var v domain.Validator
	required(&v, password, "password")
	if err := v.Err(); err != nil {
		return err
	}
	return s.reauthenticatePassword(ctx, p, password)
}

// ConfirmTOTP activates the caller's pending enrolment with a current code
// and returns RecoveryCodeCount recovery codes, shown this once (only their
// hashes are stored); the user is emailed. A wrong code counts toward the
// account's failed-login limit. EINVALID (mfa_not_enabled) without a
// pending enrolment, ECONFLICT when already on, EUNAUTHORIZED for a wrong code.
func (s *Service) ConfirmTOTP(ctx context.Context, p *domain.Principal, code string) ([]string, error) {
	var v domain.Validator
	validateCode(&v, code, "code")
	if err := v.Err(); err != nil {
		return nil, err
	}
	f, err := s.db.TOTP(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	if f.Confirmed() {
		return nil, domain.ErrMFAAlreadyEnabled
	}
	step, err := s.attemptCode(ctx, p.User, f, code)
	if err != nil {
		return nil, err
	}
	codes, hashes := s.newRecoveryCodes(p.User.ID)
	mail := &domain.OutboundEmail{Kind: domain.EmailMFAEnabled, Recipient: p.User.Email,
		Data: map[string]string{domain.EmailKeyUsername: p.User.Username}}
	ev := event(domain.AuditMFAEnabled, p.User.ID, p.User.ID, map[string]any{"method": domain.MethodTOTP})
	if err := s.db.ConfirmTOTP(audited(ctx, ev), p.User.ID, step, hashes, mail); err != nil {
		return nil, err
	}
	if err := s.db.ClearLoginFailures(ctx, strings.ToLower(p.User.Username)); err != nil {
		return nil, err
	}
	s.log.Info().Int64("user_id", p.User.ID).Msg("mfa enabled")
	return codes, nil
}

// DisableTOTP turns the caller's second factor off after checking their
// password and a current code or an unused recovery code; the user is
// emailed. EINVALID (mfa_not_enabled), EUNAUTHORIZED.
func (s *Service) DisableTOTP(ctx context.Context, p *domain.Principal, password, code, recovery string) error {
	var v domain.Validator
	requirePassword(&v, p, password, "password")
	validateFactor(&v, code, recovery)
	if err := v.Err(); err != nil {
		return err
	}
	if on, err := s.db.MFAEnabled(ctx, p.User.ID); err != nil {
		return err
	} else if !on {
		return domain.ErrMFANotEnrolled
	}
	if err := s.reauthenticatePassword(ctx, p, password); err != nil {
		return err
	}
	if _, err := s.secondFactor(ctx, p.User, code, recovery); err != nil {
		return err
	}
	if err := s.db.ClearLoginFailures(ctx, strings.ToLower(p.User.Username)); err != nil {
		return err
	}
	return s.removeTOTP(ctx, p.User, p.SessionID(), event(domain.AuditMFADisabled, p.User.ID, p.User.ID, nil))
}

// ResetMFA turns the named user's second factor off, for `authsvc user mfa
// reset` (an admin's recovery for a lost device); audited and emailed.
// ENOTFOUND, EINVALID (mfa_not_enabled).
func (s *Service) ResetMFA(ctx context.Context, username string) (*domain.User, error) {
	u, err := s.db.UserByUsername(ctx, username)
	if err != nil {
		return nil, err
	}
	return u, s.removeTOTP(ctx, u, "", event(domain.AuditMFAReset, 0, u.ID, cli(nil)))
}

// MFAEnabled reports whether the named user has a second factor on.
func (s *Service) MFAEnabled(ctx context.Context, userID int64) (bool, error) {
	return s.db.MFAEnabled(ctx, userID)
}

// removeTOTP turns u's second factor off and ends every session of u but
// keepSession ("" ends them all): sessions signed in with the factor must
// not outlive it.
func (s *Service) removeTOTP(ctx context.Context, u *domain.User, keepSession string, ev *domain.AuditEvent) error {
	mail := &domain.OutboundEmail{Kind: domain.EmailMFADisabled, Recipient: u.Email,
		Data: map[string]string{domain.EmailKeyUsername: u.Username}}
	if err := s.db.DeleteTOTP(audited(ctx, ev), u.ID, keepSession, mail); err != nil {
		return err
	}
	s.log.Info().Int64("user_id", u.ID).Str("event", ev.Event).Msg("mfa disabled")
	return nil
}

// newChallenge is the end of a correct first factor (firstFactor: the amr
// value of a password or an upstream provider) for an enrolled account: no
// access token yet, but a 5-minute single-purpose mfa_token,
// whose challenge the caller stores. passkey adds webauthn to the methods
// (the account has a passkey and passkeys are on).
func (s *Service) newChallenge(u *domain.User, firstFactor string, passkey bool) (*domain.AccessToken, *domain.MFAChallenge) {
	tok := "mfa_" + randomToken()
	now := s.now()
	c := &domain.MFAChallenge{TokenHash: domain.HashToken(tok), UserID: u.ID, FirstFactor: firstFactor, CreatedAt: now,
		ExpiresAt: now.Add(domain.MFATokenTTL)}
	methods := domain.MFAMethods
	if passkey && s.opts.Passkeys {
		methods = append(slices.Clone(methods), domain.MethodWebAuthn)
	}
	return &domain.AccessToken{MFA: &domain.MFAPending{Token: tok, Methods: methods}}, c
}

// Challenge completes a login with its mfa_token and a current TOTP code or
// an unused recovery code, and issues the access token (amr ["pwd","otp"],
// aal "aal2"). A wrong code counts toward the account's failed-login limit
// and the token's own: each attempt is counted before the code is checked,
// so even concurrent ones are at most MFAMaxFailures; then the token is dead. A code is
// accepted once. EUNAUTHORIZED (invalid_mfa_token, invalid_mfa_code,
// mfa_code_used), ERATELIMIT.
func (s *Service) Challenge(ctx context.Context, mfaToken, code, recovery string) (*domain.AccessToken, error) {
	var v domain.Validator
	required(&v, mfaToken, "mfa_token")
	validateFactor(&v, code, recovery)
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash := domain.HashToken(mfaToken)
	c, err := s.db.AttemptMFAChallenge(ctx, hash, domain.MFAMaxFailures)
	if err != nil {
		return nil, err
	}
	u, err := s.db.UserByID(ctx, c.UserID)
	if isCode(err, domain.ENOTFOUND) {
		return nil, domain.ErrInvalidMFAToken
	}
	if err != nil {
		return nil, err
	}
	method, err := s.secondFactor(ctx, u, code, recovery)
	if err != nil {
		return nil, err
	}
	if err := s.db.DeleteMFAChallenge(ctx, hash); err != nil {
		return nil, err
	}
	if err := s.db.ClearLoginFailures(ctx, strings.ToLower(u.Username)); err != nil {
		return nil, err
	}
	s.opts.Metrics.LoginSucceeded()
	ev := event(domain.AuditLoginSucceeded, u.ID, u.ID, map[string]any{"mfa": method})
	return s.startSessionAMR(ctx, u, ev, []string{c.FirstFactor, domain.AMROTP})
}

// secondFactor checks a TOTP code or a recovery code of u (exactly one is
// set) and uses it up; it returns the method. Every attempt counts toward
// the account's failed-login limit like a password (ERATELIMIT past it).
func (s *Service) secondFactor(ctx context.Context, u *domain.User, code, recovery string) (string, error) {
	f, err := s.db.TOTP(ctx, u.ID)
	if isCode(err, domain.EINVALID) || (err == nil && !f.Confirmed()) {
		return "", domain.ErrMFANotEnrolled
	}
	if err != nil {
		return "", err
	}
	if code != "" {
		step, err := s.attemptCode(ctx, u, f, code)
		if err != nil {
			return "", err
		}
		if err := s.db.UseTOTPStep(ctx, u.ID, step); err != nil {
			return "", s.failedCode(ctx, u, err)
		}
		return domain.MethodTOTP, nil
	}
	key := strings.ToLower(u.Username)
	if _, err := s.reserveLoginAttempt(ctx, key); err != nil {
		return "", err
	}
	left, err := 0, domain.ErrMFAInvalidCode
	if s.sealer != nil {
		left, err = s.db.UseRecoveryCode(ctx, u.ID, s.macRecoveryCode(u.ID, recovery))
	}
	if errors.Is(err, domain.ErrMFAInvalidCode) {
		left, err = s.db.UseRecoveryCode(ctx, u.ID, legacyRecoveryHash(recovery))
	}
	if err != nil {
		return "", s.failedCode(ctx, u, err)
	}
	s.log.Info().Int64("user_id", u.ID).Int("recovery_codes_left", left).Msg("recovery code used")
	s.record(ctx, event(domain.AuditRecoveryCodeOK, u.ID, u.ID, map[string]any{"left": left}))
	return domain.MethodRecoveryCode, nil
}

// attemptCode counts an attempt of u and returns the TOTP step whose code
// equals code, within ±TOTPSkew steps of now; ErrMFAInvalidCode otherwise.
// The caller records the step as used.
func (s *Service) attemptCode(ctx context.Context, u *domain.User, f *domain.TOTPFactor, code string) (int64, error) {
	if _, err := s.reserveLoginAttempt(ctx, strings.ToLower(u.Username)); err != nil {
		return 0, err
	}
	if s.sealer == nil {
		return 0, domain.ErrMFAKEKRequired
	}
	secret, err := s.sealer.Open(totpAAD(u.ID), f.Secret)
	if err != nil {
		return 0, fmt.Errorf("open totp secret of user %d: %w", u.ID, err)
	}
	step, ok := matchStep(string(secret), code, s.now())
	if !ok {
		return 0, s.failedCode(ctx, u, domain.ErrMFAInvalidCode)
	}
	return step, nil
}

// failedCode records a refused code (audit, metrics) and returns err.
func (s *Service) failedCode(ctx context.Context, u *domain.User, err error) error {
	if isCode(err, domain.EUNAUTHORIZED) {
		s.opts.Metrics.LoginFailed()
		s.record(ctx, event(domain.AuditMFAFailed, 0, u.ID, map[string]any{"reason": domain.ErrorReason(err)}))
	}
	return err
}

// matchStep returns the step within ±TOTPSkew of now whose code is code.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	cur := now.Unix() / domain.TOTPPeriod
	found, match := int64(0), false
	for d := int64(-domain.TOTPSkew); d <= domain.TOTPSkew; d++ {
		step := cur + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*domain.TOTPPeriod, 0), totpOpts())
		if err == nil && hmac.Equal([]byte(want), []byte(code)) && !match {
			found, match = step, true
		}
	}
	return found, match
}

// newRecoveryCodes returns RecoveryCodeCount codes (xxxxx-xxxxx, 50 random
// bits each) for user userID and their keyed hashes.
func (s *Service) newRecoveryCodes(userID int64) (codes, hashes []string) {
	enc := base32.StdEncoding.WithPadding(base32.NoPadding)
	for range domain.RecoveryCodeCount {
		var b [7]byte
		_, _ = rand.Read(b[:])
		c := strings.ToLower(enc.EncodeToString(b[:]))[:10]
		code := c[:5] + "-" + c[5:]
		codes = append(codes, code)
		hashes = append(hashes, s.macRecoveryCode(userID, code))
	}
	return codes, hashes
}

// canonicalRecoveryCode is a recovery code as typed without what does not
// matter: case, spaces and dashes.
func canonicalRecoveryCode(code string) string {
	return strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
}

// recoveryMACPrefix marks a keyed recovery-code hash in mfa_recovery_codes.
const recoveryMACPrefix = "hmac-sha256:"

// macRecoveryCode is the stored form of a recovery code: HMAC-SHA256 under a
// key derived from the key-encryption key, bound to the user. A copy of the
// database without that key cannot be searched for codes; with 50 random
// bits per code, an unkeyed hash could be.
func (s *Service) macRecoveryCode(userID int64, code string) string {
	mac := s.sealer.MAC("recovery:"+strconv.FormatInt(userID, 10), []byte(canonicalRecoveryCode(code)))
	return recoveryMACPrefix + hex.EncodeToString(mac)
}

// legacyRecoveryHash is how codes were stored before they were keyed (an
// unkeyed SHA-256); such codes keep working until used or replaced.
func legacyRecoveryHash(code string) string {
	return domain.HashToken("recovery:" + canonicalRecoveryCode(code))
}

// randomToken returns 256 random bits, base64url.
func randomToken() string { return domain.RandomToken(32) }

// isTOTPCode reports whether code looks like a TOTP code (6 digits).
func isTOTPCode(code string) bool {
	return len(code) == domain.TOTPDigits && strings.Trim(code, "0123456789") == ""
}

// validateCode checks that a TOTP code is 6 digits.
func validateCode(v *domain.Validator, code, field string) {
	if !required(v, code, field) {
		return
	}
	if !isTOTPCode(code) {
		v.Add(domain.MsgMFACodeFormat, domain.TypeStringPattern, "body", field)
	}
}

// validateFactor checks that exactly one of code and recovery_code is set.
func validateFactor(v *domain.Validator, code, recovery string) {
	switch {
	case code != "" && recovery != "":
		v.Add(domain.MsgMFACodeOrRecovery, domain.TypeValueError, "body", "code")
	case recovery != "":
		if len(recovery) > 64 {
			v.Add(domain.MsgMFACodeFormat, domain.TypeStringTooLong, "body", "recovery_code")
		}
	default:
		validateCode(v, code, "code")
	}
}
