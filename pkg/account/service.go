// Package account holds the account use cases — register, login, refresh,
// logout, password change and reset, email change, deletion — and the
// authentication of access tokens. The HTTP API and the CLI both call them;
// no business rule lives in a handler or a command.
package account

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/authsvc/authsvc/pkg/domain"
	"github.com/rs/zerolog"
)

// Metrics receives the use cases' events (backed by Prometheus in serve).
// Implementations must be safe for concurrent use and fast.
type Metrics interface {
	LoginSucceeded()
	LoginFailed()
	TokenIssued()
	// TokenRefused is called for every refused access token; reason is one
	// of token's Reason* constants or "revoked", "stale_version",
	// "user_gone", "session_expired", "already_refreshed", "session_ended".
	TokenRefused(reason string)
}

// NopMetrics is a Metrics that records nothing.
type NopMetrics struct{}

// LoginSucceeded does nothing.
func (NopMetrics) LoginSucceeded() {}

// LoginFailed does nothing.
func (NopMetrics) LoginFailed() {}

// TokenIssued does nothing.
func (NopMetrics) TokenIssued() {}

// TokenRefused does nothing.
func (NopMetrics) TokenRefused(string) {}

// Options tune the use cases. Every setting is required: serve and the CLI
// fill them from the configuration, whose Defaults is the one table of
// defaults. Token lifetimes are the token issuer's (token.Config).
type Options struct {
	MaxSession         time.Duration // refresh refuses tokens whose auth_time is older
	FrontendURL        string        // links: <FrontendURL>/reset-password?token=…, <FrontendURL>/verify-email?token=…
	FailedLoginLimit   int           // failed logins per username per window before 429
	FailedLoginWindow  time.Duration
	ResetEmailInterval time.Duration // at most one reset email per account per interval
	// RequireVerifiedEmail refuses the login of an unverified account (403
	// email_not_verified) and makes an email change wait for the new
	// address to confirm its link.
	RequireVerifiedEmail bool
	VerifyTTL            time.Duration // lifetime of a verification link, default 24 h
	VerifyInterval       time.Duration // at most one verification email per account per interval (resend)
	AuditRetention       time.Duration // audit events older than this are pruned, default 90 days
	// MFARequiredForAdmins limits an admin without a second factor to the
	// enrolment endpoints (auth.mfa_required_for_admins).
	MFARequiredForAdmins bool
	TOTPIssuer           string // the issuer authenticator apps show, default "authsvc"
	// Passkeys (webauthn.enabled): an account with TOTP and a passkey may
	// give the passkey as its second step (methods lists webauthn).
	Passkeys bool
	Clock    domain.Clock // nil means time.Now
	Logger   zerolog.Logger
	Metrics  Metrics // nil means NopMetrics
}

// ErrMissingSetting is New's error for Options without a setting's value.
var ErrMissingSetting = errors.New("account: options without a value")

// check refuses options missing a setting: the values come from the
// configuration (config.Defaults), never from a second table here.
func (o Options) check() error {
	var missing []string
	for name, zero := range map[string]bool{
		"MaxSession": o.MaxSession <= 0, "FrontendURL": o.FrontendURL == "",
		"FailedLoginLimit": o.FailedLoginLimit <= 0, "FailedLoginWindow": o.FailedLoginWindow <= 0,
		"ResetEmailInterval": o.ResetEmailInterval <= 0, "VerifyTTL": o.VerifyTTL <= 0,
		"VerifyInterval": o.VerifyInterval <= 0, "AuditRetention": o.AuditRetention <= 0,
		"TOTPIssuer": o.TOTPIssuer == "",
	} {
		if zero {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%w: %s", ErrMissingSetting, strings.Join(missing, ", "))
	}
	return nil
}

// Deps are the adapters the use cases run on.
type Deps struct {
	Store  domain.AuthStore // *store.DB in serve and the CLI
	Hasher domain.PasswordHasher
	Policy domain.PasswordPolicy
	Tokens domain.TokenIssuer
	// Sealer seals TOTP secrets under the key-encryption key; nil (no
	// auth.key_encryption_key) means enrolment is refused (kek_required).
	Sealer domain.SecretSealer
}

// Service implements domain.AuthService and domain.Authenticator, plus
// the admin operations of the CLI.
type Service struct {
	db     domain.AuthStore
	hasher domain.PasswordHasher
	policy domain.PasswordPolicy
	tokens domain.TokenIssuer
	sealer domain.SecretSealer
	opts   Options
	log    zerolog.Logger

	// background bounds the reset requests being queued after their
	// response; pending tracks them for Wait.
	background chan struct{}
	pending    sync.WaitGroup
}

// maxBackgroundResets bounds the reset requests in progress at once.
const maxBackgroundResets = 64

var (
	_ domain.AuthService   = (*Service)(nil)
	_ domain.Authenticator = (*Service)(nil)
)

// New returns a Service. Every field of deps is required.
func New(deps Deps, opts Options) (*Service, error) {
	if deps.Store == nil || deps.Hasher == nil || deps.Policy == nil || deps.Tokens == nil {
		return nil, errors.New("auth: store, hasher, policy and tokens are required")
	}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	return &Service{db: deps.Store, hasher: deps.Hasher, policy: deps.Policy, tokens: deps.Tokens,
		sealer: deps.Sealer, opts: opts, log: opts.Logger, background: make(chan struct{}, maxBackgroundResets)}, nil
}

func (s *Service) now() time.Time { return s.opts.Clock().UTC() }

// isCode reports whether err carries the domain code.
func isCode(err error, code string) bool { return domain.ErrorCode(err) == code }
