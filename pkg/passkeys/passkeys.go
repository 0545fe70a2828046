// Package passkeys holds the passkey (WebAuthn) use cases: register a
// passkey, sign in with one, list, rename and delete them. The ceremonies
// are go-webauthn's; this package keeps their challenges single-use in the
// database (a ceremony may finish on another replica) and hands a verified
// sign-in to the account use cases.
package passkeys

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/rs/zerolog"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Config is webauthn.*: the relying party.
type Config struct {
	RPID    string
	RPName  string
	Origins []string
}

// Store is what the passkeys need of the database.
type Store interface {
	domain.PasskeyStore
	UserByID(ctx context.Context, id int64) (*domain.User, error)
	UserByUsername(ctx context.Context, username string) (*domain.User, error)
	RecordAudit(ctx context.Context, events ...*domain.AuditEvent) error
}

// Accounts is the account side of a passkey sign-in (pkg/account).
type Accounts interface {
	PasskeyAttempt(ctx context.Context, u *domain.User) error
	PasskeyFailed(ctx context.Context, u *domain.User, reason string)
	SignInPasskey(ctx context.Context, u *domain.User, amr []string) (*domain.AccessToken, error)
	RecentOrPassword(ctx context.Context, p *domain.Principal, password string) error

	// A passkey as the second step after the password (mfa_token).
	MFAUser(ctx context.Context, mfaToken string) (*domain.User, error)
	AttemptMFAPasskey(ctx context.Context, mfaToken string) (*domain.User, string, error)
	MFAPasskeyFailed(ctx context.Context, u *domain.User, reason string)
	CompleteMFAPasskey(ctx context.Context, mfaToken string, u *domain.User, amr []string) (*domain.AccessToken, error)

	// A passkey-only account's sign-up.
	CheckSignUp(ctx context.Context, username, email string) error
	RegisterWithPasskey(ctx context.Context, r domain.Registration, id int64, k *domain.Passkey, amr []string) (*domain.User, *domain.AccessToken, error)
}

var _ domain.PasskeyService = (*Service)(nil)

// Service runs the passkey use cases.
type Service struct {
	wa       *webauthn.WebAuthn
	db       Store
	accounts Accounts
	log      zerolog.Logger
	now      domain.Clock
}

// New returns the service; clock nil means time.Now.
func New(cfg Config, db Store, accounts Accounts, log zerolog.Logger, clock domain.Clock) (*Service, error) {
	if clock == nil {
		clock = time.Now
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: cfg.RPID, RPDisplayName: cfg.RPName, RPOrigins: cfg.Origins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: domain.PasskeyChallengeTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: domain.PasskeyChallengeTTL},
		}})
	if err != nil {
		return nil, err
	}
	return &Service{wa: wa, db: db, accounts: accounts, log: log, now: clock}, nil
}

// user is an account as go-webauthn sees it: its handle is the user id
// (8 bytes, big-endian), never the username or the email.
type user struct {
	u     *domain.User
	creds []webauthn.Credential
}

func (w *user) WebAuthnID() []byte                         { return handle(w.u.ID) }
func (w *user) WebAuthnName() string                       { return w.u.Username }
func (w *user) WebAuthnDisplayName() string                { return w.u.Username }
func (w *user) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func handle(id int64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, uint64(id)) //nolint:gosec // G115: user ids are positive
	return b
}

// load reads u's passkeys as go-webauthn credentials.
func (s *Service) load(ctx context.Context, u *domain.User) (*user, error) {
	keys, err := s.db.Passkeys(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	w := &user{u: u}
	for _, k := range keys {
		var tr []protocol.AuthenticatorTransport
		for _, t := range k.Transports {
			tr = append(tr, protocol.AuthenticatorTransport(t))
		}
		w.creds = append(w.creds, webauthn.Credential{ID: k.CredentialID, PublicKey: k.PublicKey, Transport: tr,
			Flags:         webauthn.CredentialFlags{UserVerified: k.UserVerified, BackupEligible: k.BackupEligible, BackupState: k.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount}})
	}
	return w, nil
}

// save stores a ceremony's session data under its challenge's hash.
func (s *Service) save(ctx context.Context, purpose string, userID int64, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	return s.db.PutWebAuthnChallenge(ctx, &domain.WebAuthnChallenge{ChallengeHash: domain.HashToken(sd.Challenge),
		Purpose: purpose, UserID: userID, SessionData: string(data), CreatedAt: now, ExpiresAt: now.Add(domain.PasskeyChallengeTTL)})
}

// take takes the ceremony of challenge (single use) and its session data.
func (s *Service) take(ctx context.Context, purpose, challenge string) (*domain.WebAuthnChallenge, *webauthn.SessionData, error) {
	c, err := s.db.TakeWebAuthnChallenge(ctx, domain.HashToken(challenge), purpose)
	if err != nil {
		return nil, nil, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(c.SessionData), &sd); err != nil {
		return nil, nil, err
	}
	return c, &sd, nil
}

// BeginRegistration starts adding a passkey to the caller's account, after a
// recent sign-in or their password: the creation options for
// navigator.credentials.create, the account's passkeys excluded.
func (s *Service) BeginRegistration(ctx context.Context, p *domain.Principal, password string) (any, error) {
	if err := s.accounts.RecentOrPassword(ctx, p, password); err != nil {
		return nil, err
	}
	w, err := s.load(ctx, p.User)
	if err != nil {
		return nil, err
	}
	opts, sd, err := s.wa.BeginRegistration(w, webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()))
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, domain.PasskeyRegister, p.User.ID, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishRegistration verifies the authenticator's answer (body: the
// PublicKeyCredential as JSON) and stores the passkey named name; the
// user is emailed and the addition audited.
func (s *Service) FinishRegistration(ctx context.Context, p *domain.Principal, name string, body []byte) (*domain.Passkey, error) {
	name, err := passkeyName(name)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, domain.ErrPasskeyInvalid.With(err)
	}
	c, sd, err := s.take(ctx, domain.PasskeyRegister, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return nil, err
	}
	if c.UserID != p.User.ID {
		return nil, domain.ErrPasskeyChallenge
	}
	// CreateCredential reads the user's id only (the existing credentials
	// were excluded when the ceremony began): no need to load them.
	cred, err := s.wa.CreateCredential(&user{u: p.User}, *sd, parsed)
	if err != nil {
		return nil, domain.ErrPasskeyInvalid.With(err)
	}
	k := newPasskey(p.User.ID, name, cred)
	ev := &domain.AuditEvent{Event: domain.AuditPasskeyAdded, ActorID: p.User.ID, TargetID: p.User.ID,
		Details: map[string]any{"name": name}}
	if err := s.db.AddPasskey(domain.WithAudit(ctx, ev), k, notice(domain.EmailPasskeyAdded, p.User, name)); err != nil {
		return nil, err
	}
	return k, nil
}

// newPasskey is the passkey of a verified registration.
func newPasskey(userID int64, name string, cred *webauthn.Credential) *domain.Passkey {
	k := &domain.Passkey{UserID: userID, CredentialID: cred.ID, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		UserVerified: cred.Flags.UserVerified, Name: name}
	for _, t := range cred.Transport {
		k.Transports = append(k.Transports, string(t))
	}
	return k
}

// passkeyName is a passkey's name as given ("Passkey" when none), or the
// validation error.
func passkeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		name = "Passkey"
	}
	if !validName(name) {
		return "", domain.ValidationError(domain.FieldError{Loc: []string{"body", "name"}, Msg: domain.MsgPasskeyName, Type: domain.TypeValueError})
	}
	return name, nil
}

// signUp is a passkey sign-up's account to come, kept with the ceremony's
// session data (the challenge row has no user yet).
type signUp struct {
	webauthn.SessionData
	SignUp struct {
		UserID   int64  `json:"user_id"`
		Username string `json:"username"`
		Email    string `json:"email"`
	} `json:"signup"`
}

// BeginSignUp starts a passkey-only account's sign-up: username and email
// are checked as a registration's, a user id is reserved for the passkey's
// user handle (the account does not exist until FinishSignUp), and the
// creation options are returned.
func (s *Service) BeginSignUp(ctx context.Context, username, email string) (any, error) {
	if err := s.accounts.CheckSignUp(ctx, username, email); err != nil {
		return nil, err
	}
	id, err := s.db.ReserveUserID(ctx)
	if err != nil {
		return nil, err
	}
	opts, sd, err := s.wa.BeginRegistration(&user{u: &domain.User{ID: id, Username: username}})
	if err != nil {
		return nil, err
	}
	su := signUp{SessionData: *sd}
	su.SignUp.UserID, su.SignUp.Username, su.SignUp.Email = id, username, email
	data, err := json.Marshal(su)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if err := s.db.PutWebAuthnChallenge(ctx, &domain.WebAuthnChallenge{ChallengeHash: domain.HashToken(sd.Challenge),
		Purpose: domain.PasskeySignUp, SessionData: string(data), CreatedAt: now, ExpiresAt: now.Add(domain.PasskeyChallengeTTL)}); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishSignUp verifies the authenticator's answer to a BeginSignUp and
// creates the account, without a password, together with the passkey
// named name (nothing is created when the answer does not verify), and
// signs it in (amr of the passkey: hwk or swk, and user when verified).
func (s *Service) FinishSignUp(ctx context.Context, name string, body []byte) (*domain.User, *domain.AccessToken, error) {
	name, err := passkeyName(name)
	if err != nil {
		return nil, nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nil, nil, domain.ErrPasskeyInvalid.With(err)
	}
	c, sd, err := s.take(ctx, domain.PasskeySignUp, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return nil, nil, err
	}
	var su signUp
	if err := json.Unmarshal([]byte(c.SessionData), &su); err != nil {
		return nil, nil, err
	}
	w := &user{u: &domain.User{ID: su.SignUp.UserID, Username: su.SignUp.Username}}
	cred, err := s.wa.CreateCredential(w, *sd, parsed)
	if err != nil {
		return nil, nil, domain.ErrPasskeyInvalid.With(err)
	}
	return s.accounts.RegisterWithPasskey(ctx, domain.Registration{Username: su.SignUp.Username, Email: su.SignUp.Email},
		su.SignUp.UserID, newPasskey(su.SignUp.UserID, name, cred), amrOf(cred))
}

// BeginLogin starts a passkey sign-in: for username's passkeys, or, with
// no username, for any discoverable passkey (the browser offers the
// account's). An unknown username gets options as for an account without
// passkeys, so the answer does not tell whether the account exists.
func (s *Service) BeginLogin(ctx context.Context, username string) (any, error) {
	var (
		opts   *protocol.CredentialAssertion
		sd     *webauthn.SessionData
		userID int64
		err    error
	)
	if username == "" {
		opts, sd, err = s.wa.BeginDiscoverableLogin()
	} else {
		u, uerr := s.db.UserByUsername(ctx, username)
		switch {
		case uerr == nil:
			var w *user
			if w, err = s.load(ctx, u); err != nil {
				return nil, err
			}
			userID = u.ID
			if len(w.creds) == 0 {
				opts, sd, err = s.wa.BeginDiscoverableLogin()
			} else {
				opts, sd, err = s.wa.BeginLogin(w)
			}
		case domain.ErrorCode(uerr) == domain.ENOTFOUND:
			opts, sd, err = s.wa.BeginDiscoverableLogin()
		default:
			return nil, uerr
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, domain.PasskeyLogin, userID, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishLogin verifies an assertion (body: the PublicKeyCredential as
// JSON) and signs its user in: one factor, or two when the authenticator
// verified the user. A failure counts toward the account's failed-login
// limit; a signature counter that went backwards is refused and audited.
func (s *Service) FinishLogin(ctx context.Context, body []byte) (*domain.AccessToken, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, domain.ErrPasskeyInvalid.With(err)
	}
	c, sd, err := s.take(ctx, domain.PasskeyLogin, parsed.Response.CollectedClientData.Challenge)
	if err != nil {
		return nil, err
	}
	k, err := s.credential(ctx, parsed)
	if err != nil {
		return nil, err
	}
	if c.UserID != 0 && c.UserID != k.UserID { // begun for another account
		return nil, domain.ErrPasskeyInvalid
	}
	if len(parsed.Response.UserHandle) > 0 && !bytes.Equal(parsed.Response.UserHandle, handle(k.UserID)) {
		return nil, domain.ErrPasskeyInvalid
	}
	u, err := s.db.UserByID(ctx, k.UserID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, domain.ErrPasskeyInvalid
	} else if err != nil {
		return nil, err
	}
	if err := s.accounts.PasskeyAttempt(ctx, u); err != nil {
		return nil, err
	}
	cred, err := s.validate(ctx, u, k, c.UserID == 0, sd, parsed, func(reason string) { s.accounts.PasskeyFailed(ctx, u, reason) })
	if err != nil {
		return nil, err
	}
	return s.accounts.SignInPasskey(ctx, u, amrOf(cred))
}

// credential is the stored passkey an assertion names; ErrPasskeyInvalid
// when none.
func (s *Service) credential(ctx context.Context, parsed *protocol.ParsedCredentialAssertionData) (*domain.Passkey, error) {
	k, err := s.db.PasskeyByCredentialID(ctx, parsed.RawID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return nil, domain.ErrPasskeyInvalid
	}
	return k, err
}

// validate checks parsed, the answer to the ceremony of sd (discoverable:
// begun without a user), with u's passkey k, and moves its sign count on:
// the one check of every passkey sign-in. A counter that went backwards is
// refused and audited (passkey.sign_count_regressed). failed records a
// refusal and its reason.
func (s *Service) validate(ctx context.Context, u *domain.User, k *domain.Passkey, discoverable bool, sd *webauthn.SessionData,
	parsed *protocol.ParsedCredentialAssertionData, failed func(reason string)) (*webauthn.Credential, error) {
	w, err := s.load(ctx, u)
	if err != nil {
		return nil, err
	}
	var cred *webauthn.Credential
	if discoverable {
		cred, err = s.wa.ValidateDiscoverableLogin(func([]byte, []byte) (webauthn.User, error) { return w, nil }, *sd, parsed)
	} else {
		cred, err = s.wa.ValidateLogin(w, *sd, parsed)
	}
	if err != nil {
		failed("assertion")
		return nil, domain.ErrPasskeyInvalid.With(err)
	}
	if err := s.db.UsePasskey(ctx, k.ID, cred.Authenticator.SignCount, cred.Flags.BackupState); err != nil {
		if errors.Is(err, domain.ErrPasskeySignCount) {
			failed("sign_count")
			s.log.Warn().Int64("user_id", u.ID).Int64("passkey_id", k.ID).Msg("passkey sign count went backwards: refused")
			s.audit(ctx, u, k)
		}
		return nil, err
	}
	return cred, nil
}

// BeginMFA starts a passkey as the second step of the login of mfaToken
// (the password was right): request options limited to the account's
// passkeys. ErrInvalidMFAToken; ErrNoPasskey when the account has none.
func (s *Service) BeginMFA(ctx context.Context, mfaToken string) (any, error) {
	u, err := s.accounts.MFAUser(ctx, mfaToken)
	if err != nil {
		return nil, err
	}
	w, err := s.load(ctx, u)
	if err != nil {
		return nil, err
	}
	if len(w.creds) == 0 {
		return nil, domain.ErrNoPasskey
	}
	opts, sd, err := s.wa.BeginLogin(w)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, domain.PasskeyMFA, u.ID, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishMFA verifies the passkey's answer to a BeginMFA and ends the login
// of mfaToken: amr ["pwd","hwk"] (or "swk" for a synced passkey; "fed"
// after an upstream provider instead of the password), aal2.
// The attempt counts toward the token's attempts and the account's
// failed-login limit before the answer is checked, like a code; a failure
// is audited (mfa.failed); the mfa_token and the challenge are single use.
func (s *Service) FinishMFA(ctx context.Context, mfaToken string, body []byte) (*domain.AccessToken, error) {
	if mfaToken == "" {
		return nil, domain.ValidationError(domain.FieldError{Loc: []string{"body", "mfa_token"}, Msg: domain.MsgFieldRequired, Type: domain.TypeMissing})
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nil, domain.ErrPasskeyInvalid.With(err)
	}
	u, firstFactor, err := s.accounts.AttemptMFAPasskey(ctx, mfaToken)
	if err != nil {
		return nil, err
	}
	failed := func(reason string) { s.accounts.MFAPasskeyFailed(ctx, u, reason) }
	c, sd, err := s.take(ctx, domain.PasskeyMFA, parsed.Response.CollectedClientData.Challenge)
	if err == nil && c.UserID != u.ID { // begun for another login's account
		err = domain.ErrPasskeyChallenge
	}
	if err != nil {
		failed("challenge")
		return nil, err
	}
	k, err := s.credential(ctx, parsed)
	if err == nil && k.UserID != u.ID {
		err = domain.ErrPasskeyInvalid
	}
	if err != nil {
		failed("credential")
		return nil, err
	}
	cred, err := s.validate(ctx, u, k, false, sd, parsed, failed)
	if err != nil {
		return nil, err
	}
	kind := domain.AMRHardwareKey
	if cred.Flags.BackupState {
		kind = domain.AMRSoftwareKey
	}
	return s.accounts.CompleteMFAPasskey(ctx, mfaToken, u, []string{firstFactor, kind})
}

// audit records a cloned-looking passkey.
func (s *Service) audit(ctx context.Context, u *domain.User, k *domain.Passkey) {
	ev := &domain.AuditEvent{Event: domain.AuditPasskeyCloned, TargetID: u.ID,
		Details: map[string]any{"passkey_id": k.ID, "name": k.Name}}
	if err := s.db.RecordAudit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error().Err(err).Msg("audit of a passkey's sign-count regression failed")
	}
}

// amrOf is the sign-in's methods: hwk, or swk for a synced (backed-up)
// passkey, and user when the authenticator verified the user.
func amrOf(c *webauthn.Credential) []string {
	amr := []string{domain.AMRHardwareKey}
	if c.Flags.BackupState {
		amr = []string{domain.AMRSoftwareKey}
	}
	if c.Flags.UserVerified {
		amr = append(amr, domain.AMRUser)
	}
	return amr
}

// List returns the caller's passkeys.
func (s *Service) List(ctx context.Context, p *domain.Principal) ([]*domain.Passkey, error) {
	return s.db.Passkeys(ctx, p.User.ID)
}

// Rename renames one of the caller's passkeys.
func (s *Service) Rename(ctx context.Context, p *domain.Principal, id int64, name string) error {
	name = strings.TrimSpace(name)
	if !validName(name) {
		return domain.ValidationError(domain.FieldError{Loc: []string{"body", "name"}, Msg: domain.MsgPasskeyName, Type: domain.TypeValueError})
	}
	return s.db.RenamePasskey(ctx, p.User.ID, id, name)
}

// Delete deletes one of the caller's passkeys; the user is emailed and the
// removal audited. The account's last way to sign in (no password, no
// other passkey) is refused: ErrLastSignInMethod (the store decides).
func (s *Service) Delete(ctx context.Context, p *domain.Principal, id int64) error {
	keys, err := s.db.Passkeys(ctx, p.User.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(keys, func(k *domain.Passkey) bool { return k.ID == id })
	if i < 0 {
		return domain.ErrPasskeyNotFound
	}
	ev := &domain.AuditEvent{Event: domain.AuditPasskeyRemoved, ActorID: p.User.ID, TargetID: p.User.ID,
		Details: map[string]any{"passkey_id": id, "name": keys[i].Name}}
	return s.db.DeletePasskey(domain.WithAudit(ctx, ev), p.User.ID, id, false, notice(domain.EmailPasskeyRemoved, p.User, keys[i].Name))
}

func notice(kind string, u *domain.User, name string) *domain.OutboundEmail {
	return &domain.OutboundEmail{Kind: kind, Recipient: u.Email,
		Data: map[string]string{domain.EmailKeyUsername: u.Username, domain.EmailKeyAPIKeyName: name}}
}

func validName(name string) bool {
	return name != "" && utf8.RuneCountInString(name) <= domain.MaxPasskeyName &&
		!strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f })
}
